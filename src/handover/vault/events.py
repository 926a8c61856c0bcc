"""Audit actions of the vault. No event carries a secret, a share or a key: only which entry, which share
number, who and why."""

from django.utils.translation import gettext_lazy as _

INIT = "vault.init"
SHARE_ENTER = "vault.share.enter"
UNSEAL = "vault.unseal"
SEAL = "vault.seal"
QUORUM_SHARE = "vault.quorum.share"
REKEY = "vault.rekey"
ROTATE = "vault.rotate_master"
PENDING = "vault.rekey.pending"
PENDING_CANCEL = "vault.rekey.cancel"
SECRET_CAPTURE = "vault.secret.capture"
SECRET_CHANGE = "vault.secret.change"
SECRET_VERIFY = "vault.secret.verify"
ENTRY_OPEN = "vault.entry.open"
REVEAL_REQUEST = "vault.reveal.request"
REVEAL_APPROVE = "vault.reveal.approve"
REVEAL_REFUSE = "vault.reveal.refuse"
REVEAL_OPEN = "vault.reveal.open"
REVEAL_DENIED = "vault.reveal.denied"
TASK_USE = "vault.secret.task_use"
UNWRAP = "vault.secret.unwrap"
SECRET_STAGE = "vault.secret.stage"
SECRET_PROMOTE = "vault.secret.promote"
SECRET_ABANDON = "vault.secret.abandon"
BLOB_SEAL = "vault.blob.seal"
BLOB_OPEN = "vault.blob.open"

ACTIONS = {
    ENTRY_OPEN: _("Entry opened without a secret for an account whose original is not obtainable (E02)"),
    INIT: _("Vault initialised (shares handed out)"),
    SHARE_ENTER: _("Unseal share entered"),
    UNSEAL: _("Vault unsealed"),
    SEAL: _("Vault sealed"),
    QUORUM_SHARE: _("Current share entered to approve a rekey or a master-key rotation"),
    REKEY: _("Vault rekeyed (new shares verified and made current, same master key)"),
    ROTATE: _("Vault master key rotated (every data key re-wrapped)"),
    PENDING: _("New shares made by a rekey or rotation, pending until k of them are entered back"),
    PENDING_CANCEL: _("Pending rekey or rotation cancelled (the current shares stay current)"),
    SECRET_CAPTURE: _("Secret captured into the vault"),
    SECRET_CHANGE: _("Secret changed (new version)"),
    SECRET_VERIFY: _("Secret login verification recorded"),
    SECRET_STAGE: _("New secret sealed as pending, before the target is changed"),
    SECRET_PROMOTE: _("Pending secret made current (the target holds it)"),
    SECRET_ABANDON: _("Pending secret abandoned (the target does not hold it)"),
    REVEAL_REQUEST: _("Secret reveal requested"),
    REVEAL_APPROVE: _("Secret reveal approved"),
    REVEAL_REFUSE: _("Secret reveal refused"),
    REVEAL_OPEN: _("Secret revealed"),
    REVEAL_DENIED: _("Secret reveal refused by a rule"),
    TASK_USE: _("Secret handed to a background task"),
    UNWRAP: _("Data key unwrapped by the key keeper"),
    BLOB_SEAL: _("Data holding password verifiers sealed in the vault"),
    BLOB_OPEN: _("Sealed data opened for a task (a backup diff or restore)"),
}

# audit.naming: an entry is named by its account and reference (root@hz-gt01 (BR-HZ-V002)).
OBJECT_NAMES_RELATED = {"vault.secretentry": ("account__asset", "account__system", "site")}

"""Sealing data that is not a password but holds password verifiers (a shadow file, a role dump).

Discovery keeps every gathered source for the permission backup (第二十六条第2、3项); the ones that hold
verifiers are sealed here and never stored in the clear. Sealing and opening need the vault unsealed, and
each is an audit event naming the blob, its label and digest, never its content.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org.models import Engagement, Site
from handover.vault import events
from handover.vault.crypto import envelope
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.keeper import Keeper, KeeperError
from handover.vault.lifecycle import keeper_error, require_unsealed
from handover.vault.models import SealedBlob

# A permission file or a role dump, not a database: past this it is not a verifier file.
BLOB_MAX_BYTES = 16 * 1024 * 1024


def _name(actor: Actor) -> str:
    return str(getattr(actor, "audit_name", "") or getattr(actor, "username", "") or actor)[:150]


def blob_seal(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    label: str,
    data: bytes,
    digest: str,
    keeper: Keeper | None = None,
) -> SealedBlob:
    """Seal ``data`` (whose digest the caller computed) in the vault; ``VaultSealed`` while the vault is sealed.

    Called inside the caller's transaction, so a refusal later in it leaves no blob behind.
    """
    if len(data) > BLOB_MAX_BYTES:
        raise DomainError(
            _("%(label)s is larger than %(max)d MiB and cannot be sealed in the vault.")
            % {"label": label, "max": BLOB_MAX_BYTES // (1024 * 1024)},
            field="data",
        )
    keeper, config = require_unsealed(keeper)
    with transaction.atomic():
        blob = SealedBlob(engagement=engagement, site=site, label=label[:300], size=len(data), digest=digest)
        blob.created_by_name = _name(actor)
        data_key = envelope.new_data_key(config.cipher_name)
        try:
            wrapped = keeper.wrap(
                data_key,
                record_id=blob.record_id,
                cipher_name=config.cipher_name,
                check_value=config.check_value,
            )
        except KeeperError as exc:
            raise keeper_error(exc) from None
        sealed = envelope.seal_with_data_key(
            data_key, wrapped, data, record_id=blob.record_id, cipher_name=config.cipher_name
        )
        blob.sealed = sealed.to_bytes()
        blob.save()
        event_record(
            actor=actor,
            action=events.BLOB_SEAL,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=blob,
            after={"label": blob.label, "size": blob.size, "digest": digest},
        )
    return blob


def blob_open(*, actor: Actor, blob: SealedBlob, purpose: str, keeper: Keeper | None = None) -> bytes:
    """The sealed data of ``blob``, for ``purpose``; the opening is an audit event written first."""
    if not purpose.strip():
        raise DomainError(_("Say what the sealed data is opened for."), field="purpose")
    keeper, config = require_unsealed(keeper)
    sealed = SealedSecret.from_bytes(bytes(blob.sealed))
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.BLOB_OPEN,
            engagement_id=blob.engagement_id,
            site_id=blob.site_id,
            obj=blob,
            after={"label": blob.label, "purpose": purpose},
        )
        try:
            data_key = keeper.unwrap(sealed, record_id=blob.record_id, check_value=config.check_value)
        except KeeperError as exc:
            raise keeper_error(exc) from None
    return envelope.open_with_data_key(data_key, sealed, record_id=blob.record_id)

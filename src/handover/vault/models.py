"""The vault's rows: its one configuration, the secret entries with their encrypted versions, and the
reveal requests (DESIGN.md decision 4; registers.md §1.3).

No column holds a secret, a hash of one or a fragment of one: a version holds the sealed bytes (the data
key wrapped by the master key, then the ciphertext), bound by associated data to the version's identity,
so a ciphertext copied into another row fails to open. 表9, 表10 and 表27 rows point here by an entry's
reference, ``{site code}-V{number:03d}`` (e.g. ``BR-HZ-V007``; see ``SecretEntry.reference``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person, Site
from handover.registers.models import Account


class VaultConfig(models.Model):
    """The vault of this deployment: cipher, share parameters and the master key's check value.

    The master key itself is never stored: only the check value (HKDF of it, one-way) that tells a right
    set of shares from a wrong one, and the id of the share set, so that old shares are named as such.
    """

    singleton = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    cipher_name = models.CharField(max_length=20)
    shares = models.PositiveSmallIntegerField()
    threshold = models.PositiveSmallIntegerField()
    set_id = models.CharField(max_length=16)
    check_value = models.CharField(max_length=32)
    key_version = models.PositiveIntegerField(default=1)
    # A rekey or rotation waiting for its new shares to be entered back (issue 18): the new set is kept beside
    # the current one, which keeps opening the vault until k of the new shares are verified; then, in one
    # transaction, the new set becomes current and the old one is retired. Nothing secret: ids and numbers.
    pending_purpose = models.CharField(
        max_length=10, blank=True, choices=[("rekey", "rekey"), ("rotate", "rotate")]
    )
    pending_set_id = models.CharField(max_length=16, blank=True)
    pending_shares = models.PositiveSmallIntegerField(default=0)
    pending_threshold = models.PositiveSmallIntegerField(default=0)
    pending_check_value = models.CharField(max_length=32, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)
    initialised_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(singleton=1), name="vault_config_single_row"),
            models.CheckConstraint(
                condition=Q(threshold__gte=2) & Q(shares__gte=F("threshold")), name="vault_config_k_of_n"
            ),
            models.CheckConstraint(
                condition=Q(pending_purpose="")
                | (
                    Q(pending_threshold__gte=2)
                    & Q(pending_shares__gte=F("pending_threshold"))
                    & ~Q(pending_set_id="")
                    & ~Q(pending_check_value="")
                    & Q(pending_since__isnull=False)
                ),
                name="vault_config_pending_k_of_n",
            ),
        ]
        verbose_name = _("vault configuration")

    def __str__(self) -> str:
        return f"vault {self.threshold}/{self.shares} {self.cipher_name}"


class SecretKind(models.TextChoices):
    """Which register a version belongs to: the original as received, or a new one set by the custodian."""

    ORIGINAL = "original", _("Original, as received (表9)")
    CHANGED = "changed", _("Changed on the handover day (表10)")
    PERIODIC = "periodic", _("Changed in stabilisation (表27)")


class CustodyMode(models.TextChoices):
    """第二十条第6项 / 表10 保管方式; the stored value is the register's term."""

    VAULT = "密码保管系统", _("Password vault")
    ENVELOPE = "密封信封入保险柜", _("Sealed envelope in the safe")
    SPLIT = "双人分段掌握", _("Split between two people")


class ChangeReason(models.TextChoices):
    """表27 修改原因 (第三十一条第1项)."""

    PERIODIC = "定期更换", _("Periodic change")
    STAFF = "人员变动", _("Staff change")
    SUSPECTED = "疑似泄露", _("Suspected disclosure")
    NEW = "新建账户", _("New account")
    RESET = "重置", _("Reset")
    OTHER = "其他", _("Other")


class VerifyResult(models.TextChoices):
    SUCCESS = "成功", _("Succeeded")
    FAILED = "失败", _("Failed")
    UNVERIFIED = "未验证", _("Not verified")


# A vault reference as a register writes it (registers.md §1.3 保管引用): the site's code, "-V" and the entry's
# number at that site, e.g. BR-HZ-V007. Found anywhere in the cell, so "密码保管系统条目 BR-HZ-V007" is one too.
REFERENCE = re.compile(r"(?<![\w-])(?P<site>[A-Za-z0-9][A-Za-z0-9_-]*?)-[Vv](?P<number>\d{3,})(?![\w-])")


def reference_for(*, site_code: str, number: int) -> str:
    """The reference of entry ``number`` at the site with ``site_code``."""
    return f"{site_code}-V{number:03d}"


class SecretEntry(models.Model):
    """The secret of one account (its system, host, layer and class come from the registers' entities).

    ``number`` counts the entries of its site from 1 and never changes (an entry is never deleted nor moved):
    with the site's code it makes the entry's ``reference``, which 表9, 表10 and 表27 name in 保管引用.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(_("number at the site"), editable=False)
    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="vault_entry")
    custody_mode = models.CharField(
        _("custody mode"), max_length=10, choices=CustodyMode.choices, default=CustodyMode.VAULT
    )
    envelope_no = models.CharField(_("sealed envelope number"), max_length=100, blank=True)
    safe = models.CharField(_("safe"), max_length=100, blank=True)
    holders = models.ManyToManyField(Person, blank=True, related_name="+", verbose_name=_("holders"))
    captured_at = models.DateTimeField(_("captured at"))
    changed_at = models.DateTimeField(_("changed at"), null=True, blank=True)
    last_verified_at = models.DateTimeField(_("last verified at"), null=True, blank=True)
    verify_result = models.CharField(
        _("login verified"), max_length=4, choices=VerifyResult.choices, default=VerifyResult.UNVERIFIED
    )
    change_interval_days = models.PositiveSmallIntegerField(_("change every (days)"), default=90)
    next_due_on = models.DateField(_("next change due"), null=True, blank=True)

    class Meta:
        ordering = ["site_id", "account_id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(custody_mode="密封信封入保险柜") | ~Q(envelope_no=""),
                name="vault_entry_envelope_has_number",
            ),
            models.UniqueConstraint(fields=["site", "number"], name="vault_entry_number_unique"),
        ]
        verbose_name = _("vault entry")
        verbose_name_plural = _("vault entries")

    def __str__(self) -> str:
        return f"{self.account} ({self.reference})"

    @property
    def reference(self) -> str:
        """What a register's 保管引用 names this entry by, e.g. ``BR-HZ-V007`` (reads ``site``)."""
        return reference_for(site_code=self.site.code, number=self.number)


class SecretVersion(models.Model):
    """One value a secret has had. ``sealed`` is ``SealedSecret.to_bytes()``; ``record_id`` is its AAD."""

    entry = models.ForeignKey(SecretEntry, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(_("kind"), max_length=10, choices=SecretKind.choices)
    reason = models.CharField(_("reason"), max_length=10, choices=ChangeReason.choices, blank=True)
    sealed = models.BinaryField(editable=False)
    generated = models.BooleanField(_("generated by the vault"), default=False)
    strength_score = models.PositiveSmallIntegerField(_("strength (0–4)"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    # Write-ahead rotation (issue 15): a new secret is sealed here *before* the target is changed, pending; it
    # becomes the current version only once the target is proven to hold it, or is abandoned (never current).
    pending = models.BooleanField(_("pending"), default=False)
    abandoned_at = models.DateTimeField(_("abandoned at"), null=True, blank=True)

    class Meta:
        ordering = ["entry_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "number"], name="vault_version_number_unique")
        ]
        verbose_name = _("secret version")
        verbose_name_plural = _("secret versions")

    def __str__(self) -> str:
        return f"{self.entry_id} v{self.number}"

    @property
    def record_id(self) -> str:
        """The associated data of this version's ciphertext: its entry and its number."""
        return record_id_for(entry_id=self.entry_id, number=self.number)


def record_id_for(*, entry_id: Any, number: int) -> str:
    return f"vault-entry:{entry_id}:v{number}"


class RevealPurpose(models.TextChoices):
    VIEW = "view", _("See on screen")
    ENVELOPE = "envelope", _("Print for a sealed envelope")


class RevealStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved, not opened yet")
    REFUSED = "refused", _("Refused")
    SPENT = "spent", _("Opened (spent)")


class RevealRequest(models.Model):
    """A request to see one secret once; approved by another person, then spent by the one reveal.

    Nobody approves their own request: the service refuses it and the database constraint
    ``vault_reveal_no_self_approval`` refuses it again for any writer that skips the service.
    """

    entry = models.ForeignKey(SecretEntry, on_delete=models.PROTECT, related_name="reveal_requests")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(_("purpose"), max_length=10, choices=RevealPurpose.choices)
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(max_length=10, choices=RevealStatus.choices, default=RevealStatus.PENDING)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    spent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approver__isnull=True) | ~Q(approver=F("requester")),
                name="vault_reveal_no_self_approval",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(approver__isnull=False),
                name="vault_reveal_decided_has_approver",
            ),
            models.CheckConstraint(
                condition=~Q(status="spent") | Q(spent_at__isnull=False), name="vault_reveal_spent_has_time"
            ),
        ]
        verbose_name = _("reveal request")
        verbose_name_plural = _("reveal requests")

    def __str__(self) -> str:
        return f"reveal #{self.pk} of {self.entry_id}"


class SealedBlob(models.Model):
    """Data that is not a password but must never be stored in the clear: a shadow or gshadow file, a role
    dump with password verifiers (第二十二条, 第二十六条第2、3项). Sealed like a secret version, under its own
    record id, so a ciphertext copied into another row fails to open; ``digest`` is the plaintext's
    ``sha256:<hex>`` as the gathered source's evidence names it (never the data itself)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(_("label"), max_length=300)
    size = models.PositiveBigIntegerField(_("size"))
    digest = models.CharField(max_length=80)
    sealed = models.BinaryField(editable=False)
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("sealed data")
        verbose_name_plural = _("sealed data")

    def __str__(self) -> str:
        return self.label

    @property
    def record_id(self) -> str:
        return f"vault-blob:{self.pk}"

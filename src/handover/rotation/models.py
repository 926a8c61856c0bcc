"""Rotation (issue 15): a plan of super-user passwords to change, approved by a second person (第八条), run
write-ahead per account: every step is in the database before the next one starts, so that a run stopped
anywhere resumes without changing a password twice and without losing the one the target holds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from handover.discovery.models import Snapshot, Target
from handover.org.models import Engagement, Site
from handover.registers.models import Row
from handover.vault.models import ChangeReason, SealedBlob, SecretEntry, VerifyResult


class PlanState(models.TextChoices):
    DRAFT = "draft", _("Draft (to be approved)")
    APPROVED = "approved", _("Approved")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")


class RotationPlan(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=10, choices=ChangeReason.choices)
    state = models.CharField(_("state"), max_length=10, choices=PlanState.choices, default=PlanState.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How many hosts change at once, overall and per site (each host's accounts one after another).
    concurrency = models.PositiveSmallIntegerField(_("hosts at once"), default=16)
    per_site = models.PositiveSmallIntegerField(_("hosts at once per site"), default=4)
    # E02 (第二十八条第2项): a reset by a higher account after the working group's consent, within this case
    case = models.ForeignKey("workflow.ExceptionCase", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")  # fmt: skip
    # Folders and files on the Linux hosts where configuration may hold an account's password (表10 配置文件中使用).
    config_paths = models.JSONField(_("configuration paths"), default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("rotation plan")
        verbose_name_plural = _("rotation plans")

    def __str__(self) -> str:
        return f"rotation plan {self.pk}"


class ItemState(models.TextChoices):
    PLANNED = "planned", _("Planned")
    STAGED = "staged", _("New secret sealed (pending)")
    CHANGED = "changed", _("Changed on the target")
    DONE = "done", _("Done")


class RotationItem(models.Model):
    """One account of a plan and how far its change went."""

    plan = models.ForeignKey(RotationPlan, on_delete=models.PROTECT, related_name="items")
    entry = models.ForeignKey(SecretEntry, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="+")
    login_name = models.CharField(_("account"), max_length=200)
    state = models.CharField(_("state"), max_length=10, choices=ItemState.choices, default=ItemState.PLANNED)
    version_number = models.PositiveIntegerField(null=True, blank=True)  # the pending secret's version
    before = models.JSONField(default=dict, blank=True)  # what must not change (passwd, aging, groups, …)
    # Where the password may be used, found before the change and checked after it (rotation/dependencies.py):
    # [{"path", "kind", "sha256", "skipped"} + after the change {"sha256_after", "holds_old", "unread"}]
    config_uses = models.JSONField(default=list, blank=True)
    outcome = models.CharField(_("login verified"), max_length=4, choices=VerifyResult.choices, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    backup_row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The account's stored verifier before the change (shadow hash, SCRAM string, authentication_string,
    # userPassword, SPARE4), sealed in the vault where the platform lets it be read: E01's revert restores it
    # exactly (第二十八条第1项, rotation/verifiers.py). Never in the clear.
    previous_verifier = models.ForeignKey(
        SealedBlob, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["plan", "entry"], name="rotation_item_once_per_plan")]
        verbose_name = _("rotation item")
        verbose_name_plural = _("rotation items")

    def __str__(self) -> str:
        return f"{self.login_name} ({self.state})"


class RestoreState(models.TextChoices):
    REQUESTED = "requested", _("Requested (to be approved)")
    APPROVED = "approved", _("Approved")
    APPLIED = "applied", _("Applied and verified")
    FAILED = "failed", _("Failed (see each file)")


class Restore(models.Model):
    """Putting a host's permission files back as its backup holds them (第二十六条第3项): requested by one
    person with the preview's files, approved by another (第八条), applied file by file, each only while the
    host still holds what the preview saw, each verified by its digest after."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="+")
    backup = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="+")
    current = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="+")
    # [{"name", "action": write|delete, "expect": digest now ("" absent), "want": digest after ("" deleted)}]
    files = models.JSONField(default=list)
    reason = models.TextField(_("reason"))
    state = models.CharField(
        _("state"), max_length=10, choices=RestoreState.choices, default=RestoreState.REQUESTED
    )
    outcome = models.JSONField(default=dict, blank=True)  # name → {"state": restored|refused, "reason"}
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("permission restore")
        verbose_name_plural = _("permission restores")

    def __str__(self) -> str:
        return f"restore {self.pk}"


class RevertState(models.TextChoices):
    REQUESTED = "requested", _("Requested (to be approved)")
    APPROVED = "approved", _("Approved")
    APPLIED = "applied", _("Original restored and verified")
    FAILED = "failed", _("Failed (the reason says what is known)")


class Revert(models.Model):
    """Restoring an account's original password after its change broke the system (第二十八条第1项 「恢复原密码」),
    inside the E01 case opened from the change's 表10 row: requested by one person with the reason, approved by
    another (第八条), applied once — the previous secret sealed again as a pending version, set on the target,
    proven by the stored verifier and a fresh login, made current, recorded on its own 表10 row and ticked on
    the case. Never automatic."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(RotationItem, on_delete=models.PROTECT, related_name="reverts")
    case = models.ForeignKey("workflow.ExceptionCase", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    state = models.CharField(
        _("state"), max_length=10, choices=RevertState.choices, default=RevertState.REQUESTED
    )
    previous_number = models.PositiveIntegerField()  # the vault version restored (the one before the change)
    version_number = models.PositiveIntegerField(
        null=True, blank=True
    )  # its copy, sealed pending, then current
    outcome = models.CharField(_("login verified"), max_length=4, choices=VerifyResult.choices, blank=True)
    detail = models.TextField(_("what happened"), blank=True)
    row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(  # 第八条: never approved by the person who asked
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("requested_by")),
                name="rotation_revert_two_persons",
            ),
            models.UniqueConstraint(
                fields=["item"],
                condition=models.Q(state__in=["requested", "approved"]),
                name="rotation_revert_one_open_per_item",
            ),
        ]
        verbose_name = _("password revert")
        verbose_name_plural = _("password reverts")

    def __str__(self) -> str:
        return f"revert {self.pk}"


# E02's sub-type whose path goes through the working group's consent (workflow.paths; 第二十八条第2项)
FORGOTTEN = "遗忘/联系不上"


class DisableState(models.TextChoices):
    REQUESTED = "requested", _("Requested (to be approved)")
    APPROVED = "approved", _("Approved")
    DISABLED = "disabled", _("Disabled, watched")
    RESTORED = "restored", _("Restored as it was (E03)")
    FAILED = "failed", _("Failed (the reason says what is known)")


class Disablement(models.Model):
    """停用 of an account on its system (第二十六条第3项 A: 「可先停用，观察一段时间后确认无用再删除」), decided on
    its 表11 row (处理措施 停用, 停用观察至), requested by one person, approved by another (第八条), applied on the
    target with what it changed recorded first (``before``: the lock state), and brought back exactly as it was
    within an E03 case (第二十八条第3项 「恢复相应用户」)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="+")
    t11_row = models.ForeignKey(Row, on_delete=models.PROTECT, related_name="+")
    login_name = models.CharField(_("account"), max_length=200)
    observe_until = models.DateField(_("disabled, watched until"))
    state = models.CharField(
        _("state"), max_length=10, choices=DisableState.choices, default=DisableState.REQUESTED
    )
    before = models.JSONField(
        default=dict, blank=True
    )  # the lock state read before the disable, brought back by E03
    detail = models.TextField(_("what happened"), blank=True)
    case = models.ForeignKey("workflow.ExceptionCase", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")  # fmt: skip
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("requested_by")),
                name="rotation_disable_two_persons",
            ),
            models.UniqueConstraint(
                fields=["target", "login_name"],
                condition=models.Q(state__in=["requested", "approved", "disabled"]),
                name="rotation_disable_one_live_per_account",
            ),
        ]
        verbose_name = _("account disablement")
        verbose_name_plural = _("account disablements")

    def __str__(self) -> str:
        return f"disable {self.login_name} ({self.state})"

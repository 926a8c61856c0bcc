"""The 表24 handover packages built for an engagement, the working group's approval of one and where it was
sent (第二十七条第3、4项). The package file itself lives in HANDOVER_PACKAGE_DIR; the row keeps its digest,
so a file changed on disk is caught by ``handover package verify`` and by the digest recorded here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person, Site
from handover.registers.models import Form


class HashAlgorithm(models.TextChoices):
    SHA256 = "sha256", "SHA-256"
    SM3 = "sm3", "SM3"


class HandoverPackage(models.Model):
    """One built package: the signed 表24 with its annexes, manifest, audit checkpoint and signature, as one zip."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="handover_packages")
    file_name = models.CharField(_("file"), max_length=200)
    size = models.BigIntegerField(_("size"))
    digest = models.CharField(_("SHA-256 of the package"), max_length=64, unique=True)
    manifest_digest = models.CharField(_("SHA-256 of the manifest"), max_length=64)
    algorithm = models.CharField(_("hash of the manifest"), max_length=8, choices=HashAlgorithm.choices)
    files = models.PositiveIntegerField(_("files"))
    residual_risk = models.TextField(_("residual-risk reason"), blank=True)
    sites_not_done = models.JSONField(_("sites not done when built"), default=list, blank=True)
    checkpoint_seq = models.PositiveBigIntegerField(_("audit checkpoint"))
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    built_by_name = models.CharField(_("built by"), max_length=150)
    built_at = models.DateTimeField(_("built at"))
    # The signed 表24 forms the package carries (第二十七条第4项: 技术组 编制, signed before it is packaged).
    table24 = models.ManyToManyField(Form, related_name="+", verbose_name=_("表24"))

    class Meta:
        ordering = ["-built_at", "-pk"]
        verbose_name = _("handover package")
        verbose_name_plural = _("handover packages")

    def __str__(self) -> str:
        return self.file_name


class PackageApproval(models.Model):
    """托管工作组 批准 (第二十七条第4项): the working-group member who approved the package in person (their login
    and fresh second factor: ``recorded_by`` is that login, ``person`` its person), when, and the reference."""

    package = models.OneToOneField(HandoverPackage, on_delete=models.PROTECT, related_name="approval")
    approver = models.CharField(_("approved by (working group)"), max_length=150)
    # Empty only on approvals typed by 技术组 before the working group approved for itself (trace C14).
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, related_name="+")
    residual_risk_read = models.BooleanField(_("residual risk read"), default=False)
    approved_at = models.DateTimeField(_("approved at"))
    reference = models.CharField(_("reference of the approval"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("package approval")
        verbose_name_plural = _("package approvals")

    def __str__(self) -> str:
        return f"{self.package_id} {self.approver}"


class Recipient(models.TextChoices):
    """第二十七条第4项: 报送当地证监局、托管工作组、被托管公司及营业部留存."""

    CSRC_BUREAU = "csrc_bureau", _("Local CSRC bureau")
    WORKING_GROUP = "working_group", _("Custody working group")
    FIRM = "firm", _("The firm under custody")
    BRANCH = "branch", _("Branch (kept on file)")


class PackageDistribution(models.Model):
    """One sending of an approved package: to whom (a branch names its site), when, and how."""

    package = models.ForeignKey(HandoverPackage, on_delete=models.PROTECT, related_name="distributions")
    recipient = models.CharField(_("recipient"), max_length=16, choices=Recipient.choices)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sent_at = models.DateTimeField(_("sent at"))
    means = models.CharField(_("sent by way of"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sent_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recipient="branch", site__isnull=False)
                | (~Q(recipient="branch") & Q(site__isnull=True)),
                name="reports_distribution_branch_names_site",
            ),
            models.UniqueConstraint(
                fields=["package", "recipient"],
                condition=Q(site__isnull=True),
                name="reports_distribution_once",
            ),
            models.UniqueConstraint(fields=["package", "site"], name="reports_distribution_once_per_branch"),
        ]
        verbose_name = _("package distribution")
        verbose_name_plural = _("package distributions")

    def __str__(self) -> str:
        return f"{self.package_id} → {self.recipient}"


class BuildState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PackageBuild(models.Model):
    """One asked build of the package, run by the task worker (DESIGN.md decision 10): who asked, with what,
    its progress (sites whose annexes are ready of those annexed), and its outcome — the package, or the reason
    it failed. ``snapshot`` is the annexed form versions chosen at its start: those, and no later version, are
    annexed (a version signed during the build is named in package.json, not annexed)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="package_builds")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_by_name = models.CharField(_("asked by"), max_length=150)
    residual_risk = models.TextField(_("residual-risk reason"), blank=True)
    summary = models.TextField(_("overall summary"), blank=True)
    algorithm = models.CharField(_("hash of the manifest"), max_length=8, choices=HashAlgorithm.choices)
    state = models.CharField(_("state"), max_length=8, choices=BuildState.choices, default=BuildState.QUEUED)
    sites_total = models.PositiveIntegerField(default=0)
    sites_done = models.PositiveIntegerField(default=0)
    annexes_reused = models.PositiveIntegerField(default=0)
    annexes_exported = models.PositiveIntegerField(default=0)
    snapshot = models.JSONField(default=list, blank=True)
    reason = models.TextField(_("why it failed"), blank=True)
    package = models.OneToOneField(
        HandoverPackage, on_delete=models.PROTECT, null=True, blank=True, related_name="build"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The last sign of life (each site's annexes ready): a build silent for long was interrupted.
    beat_at = models.DateTimeField(null=True, blank=True)
    # The process running it (host:pid): one on this host that is gone was interrupted, whatever its last beat.
    runner = models.CharField(max_length=200, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("package build")
        verbose_name_plural = _("package builds")

    def __str__(self) -> str:
        return f"{self.engagement_id} build {self.pk} {self.state}"


class AnnexFile(models.Model):
    """One signed form version exported once (xlsx or PDF) into the data folder and reused by every build: a
    signed version never changes (DESIGN.md decision 2). ``key`` is the SHA-256 of the version's content
    (header, rows, signatures, state) with the export's format version, so a file exported from other content
    is never reused; ``sha256`` is the file's, checked each time the file is reused."""

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="+")
    fmt = models.CharField(max_length=4)
    key = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "fmt", "key"], name="reports_annexfile_once"),
        ]
        verbose_name = _("exported annex")
        verbose_name_plural = _("exported annexes")

    def __str__(self) -> str:
        return f"{self.form_id}.{self.fmt} {self.key[:12]}"

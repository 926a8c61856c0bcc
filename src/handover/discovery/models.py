"""Discovery's rows: where to gather (targets), each gathering (runs and per-target outcomes), the last good
inventory of each target (a content-addressed snapshot with its sources), the facts it holds, and the
review's findings with a person's decision.

No column holds a secret: a target names the vault entry of its credential, and the sources that hold
password verifiers (``SourceFile.sealed``) are kept as vault ``SealedBlob`` rows, never in the clear.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.connectors.errors import Status
from handover.org.models import Engagement, Site
from handover.registers.models import Account, Asset, InformationSystem, Row
from handover.vault.models import SealedBlob, SecretEntry


class Target(models.Model):
    """One thing to gather: a system's host (or database, directory) reached by one connector.

    Offline imports make a target too (``port`` empty), so every inventory belongs to a system and a host.
    """

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    system = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="discovery_targets")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="discovery_targets")
    connector = models.CharField(_("connector"), max_length=40)
    address = models.CharField(_("address"), max_length=255, blank=True)
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    credential = models.ForeignKey(
        SecretEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credential (vault entry)"),
    )
    host_key = models.CharField(_("recorded host key"), max_length=2000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["system_id", "asset_id", "connector"]
        constraints = [
            models.UniqueConstraint(fields=["system", "asset", "connector"], name="discovery_target_unique")
        ]
        verbose_name = _("discovery target")
        verbose_name_plural = _("discovery targets")

    def __str__(self) -> str:
        return f"{self.connector}:{self.asset.hostname}"


class RunKind(models.TextChoices):
    GATHER = "gather", _("Live gathering")
    IMPORT = "import", _("Offline import")
    BUNDLE = "bundle", _("Field bundle")


class RunState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    INTERRUPTED = "interrupted", _("Interrupted")


class GatherRun(models.Model):
    """One gathering or import: who started it, its scope, its state and its counts."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    system = models.ForeignKey(
        InformationSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=RunKind.choices, default=RunKind.GATHER)
    state = models.CharField(_("state"), max_length=12, choices=RunState.choices, default=RunState.QUEUED)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_by_name = models.CharField(max_length=150)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)  # why the whole run failed (the vault sealed), in plain words

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("discovery run")
        verbose_name_plural = _("discovery runs")

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind})"


class Snapshot(models.Model):
    """One good inventory of a target: the canonical JSON (``serial.inventory_dumps``) in the file store under
    its SHA-256. ``is_current`` marks the last good one; a failed gathering never replaces it."""

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="snapshots")
    run = models.ForeignKey(GatherRun, on_delete=models.PROTECT, related_name="snapshots")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    platform = models.CharField(max_length=40)
    gathered_at = models.DateTimeField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-gathered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["target"], condition=Q(is_current=True), name="discovery_one_current_snapshot"
            )
        ]
        verbose_name = _("inventory snapshot")
        verbose_name_plural = _("inventory snapshots")

    def __str__(self) -> str:
        return f"{self.target} {self.sha256[:12]}"


class SnapshotSource(models.Model):
    """A source the snapshot was read from; its bytes are in the file store (``stored``) or, when they hold
    verifiers, sealed in the vault (``blob``) — never both, never a sealed one in the clear."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=500)
    digest = models.CharField(max_length=80)
    size = models.PositiveBigIntegerField()
    sealed = models.BooleanField(default=False)
    backup = models.BooleanField(default=False)
    stored = models.CharField(max_length=64, blank=True)  # SHA-256 in the file store
    blob = models.ForeignKey(SealedBlob, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sealed=False) | Q(stored=""), name="discovery_sealed_source_not_in_clear"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Fact(models.Model):
    """One gathered account of a target's current snapshot, with its rights, groups and keys, queryable by
    system, host and site. Replaced as a whole when a newer good snapshot arrives."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="facts")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="facts")
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    system = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    name = models.CharField(_("account"), max_length=300)
    kind = models.CharField(_("kind"), max_length=20)
    uid = models.CharField(max_length=500, blank=True)
    display_name = models.CharField(_("name"), max_length=300, blank=True)
    superuser = models.BooleanField(_("super-user"), default=False)
    locked = models.BooleanField(_("locked"), default=False)
    login_allowed = models.BooleanField(null=True)
    password_state = models.CharField(max_length=20)
    last_login = models.DateTimeField(null=True, blank=True)
    groups = models.JSONField(default=list)
    privileges = models.JSONField(default=list)
    keys = models.JSONField(default=list)

    class Meta:
        ordering = ["system_id", "asset_id", "name"]
        indexes = [models.Index(fields=["engagement", "site", "system"])]

    def __str__(self) -> str:
        return self.name


class Decision(models.TextChoices):
    """第二十六条第3项 A–D: what is done with an account (表11 处理措施)."""

    KEEP = "保留", _("Keep")
    DISABLE = "停用", _("Disable")
    DELETE = "删除", _("Delete")
    REDUCE = "降权", _("Reduce rights")
    PERSONAL = "改为专人专户", _("Make personal")
    REPLACE = "建替代用户", _("Create a replacement user")
    CHANGE_SECRET = "修改密码", _("Change the secret")


class Finding(models.Model):
    """One review rule's verdict on one account of a target, kept across runs: ``first_seen``/``last_seen``
    say when the rule held, ``resolved_at`` when a later review no longer found it. A person's decision is
    never overwritten by a re-run."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="findings")
    system = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(_("rule"), max_length=60)
    severity = models.CharField(_("severity"), max_length=10)
    account_name = models.CharField(_("account"), max_length=300)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    detail_en = models.TextField()
    detail_zh = models.TextField()
    evidence = models.JSONField(default=list)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices, blank=True)
    decision_note = models.TextField(_("note"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    change_row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rule_label = ""  # what the rule means in the page's language (set by the pages; not stored)

    class Meta:
        ordering = ["system_id", "asset_id", "account_name", "rule"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "rule", "account_name"], name="discovery_finding_unique"
            )
        ]
        indexes = [models.Index(fields=["engagement", "site", "rule"])]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return f"{self.rule} {self.account_name}"


class TargetOutcome(models.Model):
    """How one target fared in one run: a connector status, the reason in Chinese and English, the counts."""

    run = models.ForeignKey(GatherRun, on_delete=models.CASCADE, related_name="outcomes")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="outcomes")
    status = models.CharField(
        _("status"), max_length=20, choices=[(s.value, s.value) for s in Status], blank=True
    )
    reason_en = models.TextField(blank=True)
    reason_zh = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["run", "target"], name="discovery_outcome_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.target_id} {self.status}"


class FieldBundle(models.Model):
    """A signed discovery bundle from ``handover-agent discover`` (第二十八条第8项), imported exactly once: its
    identity is the SHA-256 of its signed index, as for fixity bundles."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    key_id = models.CharField(max_length=100)
    digest = models.CharField(_("digest"), max_length=64, unique=True)
    host = models.CharField(max_length=255, blank=True)
    created_at_site = models.CharField(_("made at the site"), max_length=40, blank=True)
    runs = models.JSONField(default=list)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    imported_by_name = models.CharField(max_length=150)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.site_id} {self.digest[:12]}"

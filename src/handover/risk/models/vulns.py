"""Vulnerabilities (三(四)一 漏洞管理; 三(七)二 行业通报, 三(七)三 监管检查发现的问题): findings imported from scans or
recorded by hand, deduplicated by what they are (host, port, the tool's check id or the public ids — never
their wording), closed only by evidence (a later scan of the same tool that covered the host and no longer
reports it, or a fix verified by a second person), and accepted only by a second person (第八条).

A finding's state is a function of the scans on record, not of the order they were imported in:
``last_seen`` is the latest scan that reported it, ``closed_at`` the earliest later scan of one of its tools
that covered its host without reporting it (risk/services/vulns.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person
from handover.registers.models import Asset


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class Source(models.TextChoices):
    SCAN = "scan", _("Vulnerability scan")
    PENTEST = "pentest", _("Penetration test")
    INSPECTION = "inspection", _("Supervisory inspection (三(七)三)")
    BULLETIN = "bulletin", _("Industry bulletin (三(七)二)")


class VulnScan(models.Model):
    """One imported scan file: its tool, when it ran, the hosts it covered, and its digest (the same file
    twice is the same scan)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    scanner = models.CharField(_("tool"), max_length=40)
    filename = models.CharField(_("file"), max_length=255)
    sha256 = models.CharField(max_length=64)
    scanned_at = models.DateTimeField(_("scanned at"))
    host_count = models.PositiveIntegerField(default=0)
    finding_count = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    imported_by_name = models.CharField(max_length=150)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scanned_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "sha256"], name="risk_vulnscan_file_once"),
        ]
        verbose_name = _("vulnerability scan")

    def __str__(self) -> str:
        return f"{self.scanner} {self.filename}"


class VulnScanHost(models.Model):
    """A host the scan covered (reported with or without findings): what lets a later scan close a finding."""

    scan = models.ForeignKey(VulnScan, on_delete=models.CASCADE, related_name="hosts")
    asset_key = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scan", "asset_key"], name="risk_vulnscanhost_once")]
        indexes = [models.Index(fields=["asset_key"], name="risk_vulnscanhost_asset")]

    def __str__(self) -> str:
        return self.asset_key


class Vulnerability(models.Model):
    """One finding on one host and port. ``key`` = asset | port/protocol | id; ``scanners`` the tools that
    reported it (a comma list, sorted). A person's decision (owner, acceptance) is never touched by an import."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=400)
    number = models.CharField(_("no."), max_length=20)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.SCAN)
    asset_key = models.CharField(_("host"), max_length=255)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    port = models.PositiveIntegerField(_("port"), default=0)
    protocol = models.CharField(_("protocol"), max_length=10, blank=True)
    ident = models.CharField(_("check id"), max_length=200)
    cves = models.CharField("CVE", max_length=400, blank=True)
    cnvd = models.CharField("CNVD", max_length=200, blank=True)
    cnnvd = models.CharField("CNNVD", max_length=200, blank=True)
    title = models.CharField(_("vulnerability"), max_length=300)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    solution = models.TextField(_("solution"), blank=True)
    scanners = models.CharField(max_length=200, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by_scan = models.ForeignKey(
        VulnScan, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("owner")
    )
    # A finding recorded by hand closes by a fix recorded by one person and verified by another.
    fixed_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    fixed_at = models.DateTimeField(null=True, blank=True)
    fix_note = models.TextField(blank=True)
    verified_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "key"], name="risk_vuln_key_once"),
            models.UniqueConstraint(fields=["engagement", "number"], name="risk_vuln_number_once"),
            models.CheckConstraint(condition=Q(last_seen__gte=F("first_seen")), name="risk_vuln_seen_order"),
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True) | ~Q(verified_by=F("fixed_by")),
                name="risk_vuln_fix_two_persons",
            ),
        ]
        indexes = [models.Index(fields=["engagement", "asset_key"], name="risk_vuln_asset")]
        verbose_name = _("vulnerability")
        verbose_name_plural = _("vulnerabilities")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class VulnSighting(models.Model):
    """A scan that reported the finding: its history."""

    vulnerability = models.ForeignKey(Vulnerability, on_delete=models.CASCADE, related_name="sightings")
    scan = models.ForeignKey(VulnScan, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vulnerability", "scan"], name="risk_vulnsighting_once")
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} in {self.scan_id}"


class DecisionKind(models.TextChoices):
    ACCEPT = "accept", _("Accept the risk until a date")
    FALSE_POSITIVE = "false_positive", _("False positive")


class VulnDecision(models.Model):
    """A request to accept a finding for a time (or to call it a false positive), and its approval by a person
    who neither asked nor owns the finding (第八条); the database refuses a row that breaks this too."""

    vulnerability = models.ForeignKey(Vulnerability, on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(_("decision"), max_length=16, choices=DecisionKind.choices)
    reason = models.TextField(_("reason"))
    expires_on = models.DateField(_("until"), null=True, blank=True)
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="risk_vulndecision_has_reason"),
            models.CheckConstraint(
                condition=~Q(kind="accept") | Q(expires_on__isnull=False),
                name="risk_vulndecision_accept_ends",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | (~Q(approved_by=F("requested_by")) & (Q(owner__isnull=True) | ~Q(approved_by=F("owner")))),
                name="risk_vulndecision_two_persons",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.vulnerability_id}"

"""Emergency plans and drills (measures 三(四)二; guideline 第十六条第4、5项, 第二十条第9项): plans in versions
with the scenarios they cover, drills with participants, target against measured RTO/RPO, and findings that
become 表40 corrective actions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Site
from handover.registers.models import Row


class Scenario(models.TextChoices):
    """The scenarios a plan must cover. The first five are those of the 2023 measures' emergency chapter
    (explainer 三(四)二; the list as summarised in shared/research/anchors-connectors-risk-trust.md §5.5,
    article number to be verified against the official text); the last two are the custody's own daily
    risks (第二十八条 paths)."""

    CYBER = "cyber", _("Network security incident")
    NATURAL = "natural", _("Natural disaster")
    HEALTH = "health", _("Public-health event")
    PERSONNEL = "personnel", _("Major change of security-related personnel")
    PROVIDER_EXIT = "provider_exit", _("Exit of a main IT service provider")
    TRADING_OUTAGE = "trading_outage", _("Trading system outage")
    LINE_OUTAGE = "line_outage", _("Exchange or main line outage")


# Scenarios every plan set must cover; the two custody facts (人事变动, 服务机构退出) are among them.
REQUIRED_SCENARIOS = (
    Scenario.CYBER,
    Scenario.NATURAL,
    Scenario.HEALTH,
    Scenario.PERSONNEL,
    Scenario.PROVIDER_EXIT,
)


class EmergencyPlan(models.Model):
    """An emergency plan of the firm (engagement-wide, or for one site)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    title = models.CharField(_("plan"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "title"], name="risk_plan_title_once"),
        ]
        verbose_name = _("emergency plan")
        verbose_name_plural = _("emergency plans")

    def __str__(self) -> str:
        return self.title


class PlanVersion(models.Model):
    """One version of a plan: its scenarios and procedures; versions are appended, never changed."""

    plan = models.ForeignKey(EmergencyPlan, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveSmallIntegerField(_("version"))
    scenarios = models.JSONField(_("scenarios"), default=list)
    procedures = models.TextField(_("procedures"))
    feasibility_checked_on = models.DateField(
        _("feasibility checked on (第十六条第5项)"), null=True, blank=True
    )
    effective_on = models.DateField(_("in force from"))
    recorded_by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="risk_plan_version_once"),
        ]
        verbose_name = _("plan version")
        verbose_name_plural = _("plan versions")

    def __str__(self) -> str:
        return f"{self.plan_id} v{self.version}"


class Drill(models.Model):
    """A drill of a plan's scenario: planned (``due_on``) and, once held, with its participants and the
    measured recovery against the target (minutes)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="drills")
    scenario = models.CharField(_("scenario"), max_length=16, choices=Scenario.choices)
    due_on = models.DateField(_("due on"))
    held_on = models.DateField(_("held on"), null=True, blank=True)
    participants = models.TextField(_("participants"), blank=True)
    target_rto_minutes = models.PositiveIntegerField(_("target RTO (min)"), null=True, blank=True)
    measured_rto_minutes = models.PositiveIntegerField(_("measured RTO (min)"), null=True, blank=True)
    target_rpo_minutes = models.PositiveIntegerField(_("target RPO (min)"), null=True, blank=True)
    measured_rpo_minutes = models.PositiveIntegerField(_("measured RPO (min)"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    report_ref = models.CharField(_("report (archived as)"), max_length=300, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    recorded_by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(held_on__isnull=True) | ~Q(participants=""),
                name="risk_drill_held_has_participants",
            ),
        ]
        verbose_name = _("emergency drill")
        verbose_name_plural = _("emergency drills")

    def __str__(self) -> str:
        return f"{self.scenario} {self.due_on}"


class DrillFinding(models.Model):
    """A problem a drill found, with the 表40 corrective action that treats it (none yet: an open item)."""

    drill = models.ForeignKey(Drill, on_delete=models.PROTECT, related_name="findings")
    problem = models.TextField(_("problem"))
    capa_row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["pk"]
        verbose_name = _("drill finding")
        verbose_name_plural = _("drill findings")

    def __str__(self) -> str:
        return self.problem[:40]

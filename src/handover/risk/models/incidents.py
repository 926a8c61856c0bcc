"""Security incidents (measures 三(四)三): the grading, the timeline, the reporting clocks as absolute
deadlines, and the notices to related parties. An incident links to its 表39 and 表40 rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Organisation
from handover.registers.models import Row


class Grade(models.TextChoices):
    """The four levels of a security incident, most severe first."""

    EXTREME = "extreme", _("Especially serious (特别重大)")
    MAJOR = "major", _("Serious (重大)")
    LARGE = "large", _("Relatively serious (较大)")
    GENERAL = "general", _("General (一般)")


class IncidentState(models.TextChoices):
    OPEN = "open", _("Open")
    RESTORED = "restored", _("Service restored")
    CLOSED = "closed", _("Closed")


class Incident(models.Model):
    """One security incident: what happened, to which class of system, how long and how widely the service
    was impaired, how many records leaked, and the grade the rules gave (with the rule and its version)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("incident no."), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    system_name = models.CharField(_("system"), max_length=200)
    system_class = models.PositiveSmallIntegerField(_("system class (1-5)"))
    trading_system = models.BooleanField(_("a trading system"), default=False)
    detected_at = models.DateTimeField(_("detected at"))
    description = models.TextField(_("description"), blank=True)
    down_minutes = models.PositiveIntegerField(_("service impaired (minutes)"), default=0)
    affected_pct = models.DecimalField(_("users affected (%)"), max_digits=5, decimal_places=2, default=0)
    leaked_records = models.PositiveIntegerField(_("investor records leaked"), default=0)
    grade = models.CharField(_("grade"), max_length=10, choices=Grade.choices, blank=True)
    grade_rule = models.CharField(_("grading rule"), max_length=300, blank=True)
    grading_version = models.CharField(max_length=40, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=IncidentState.choices, default="open")
    restored_at = models.DateTimeField(_("service restored at"), null=True, blank=True)
    t39_row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    t40_row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "number"], name="risk_incident_number_once"),
            models.CheckConstraint(
                condition=Q(system_class__gte=1, system_class__lte=5), name="risk_incident_class_1_5"
            ),
            models.CheckConstraint(
                condition=Q(restored_at__isnull=True) | Q(restored_at__gte=F("detected_at")),
                name="risk_incident_restored_after_detected",
            ),
        ]
        verbose_name = _("security incident")
        verbose_name_plural = _("security incidents")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class EntryKind(models.TextChoices):
    DETECTED = "detected", _("Detected")
    GRADED = "graded", _("Graded")
    REPORT = "report", _("Report made")
    NOTICE = "notice", _("Related party told")
    RESTORED = "restored", _("Service restored")
    ESCALATED = "escalated", _("Deadline passed, escalated")
    NOTE = "note", _("Note")


class TimelineEntry(models.Model):
    """One line of an incident's timeline; appended, never edited. ``at`` is never in the future."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    text = models.TextField(_("what happened"))
    by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class ClockKind(models.TextChoices):
    IMMEDIATE = "immediate", _("Immediate report")
    UPDATE = "update", _("Update while the trading system is down")
    WRITTEN = "written", _("Written report")
    INVESTIGATION = "investigation", _("Investigation report")


class ReportClock(models.Model):
    """A report owed on an incident, with its absolute deadline; ``seq`` numbers the repeated updates.

    The worker raises a reminder before ``due_at`` and escalates once after it (at every start as well as on
    schedule, so a stopped worker never skips a deadline: the stamps say what was done)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="clocks")
    kind = models.CharField(_("report"), max_length=14, choices=ClockKind.choices)
    seq = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField(_("due at"), db_index=True)
    basis = models.CharField(_("rule"), max_length=300)
    done_at = models.DateTimeField(_("made at"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)  # an update no longer owed: service restored

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "seq"], name="risk_clock_once"),
        ]
        verbose_name = _("reporting deadline")
        verbose_name_plural = _("reporting deadlines")

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind}#{self.seq} {self.due_at:%Y-%m-%d %H:%M}"


class PartyNotice(models.Model):
    """A related party told of an incident (三(四)三 相关方告知): who, how, when, what was said."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notices")
    party = models.CharField(_("party"), max_length=200)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("by way of"), max_length=100)
    notified_at = models.DateTimeField(_("told at"))
    summary = models.TextField(_("what was said"))
    by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["notified_at", "pk"]
        verbose_name = _("related-party notice")
        verbose_name_plural = _("related-party notices")

    def __str__(self) -> str:
        return self.party

"""What the workflow stores: per-engagement deadlines, step instances per site, their notes and evidence,
same-day feedback, escalations and reports to the working group, phase transitions and exception cases.

A step's state is not stored: it is derived from the registers (selectors.py). What is stored here is what
people add around it, and the steps each site has, created when a phase starts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person, Phase, Site
from handover.registers.models import Form, Row


class DeadlineOverride(models.Model):
    """技术组's deadline for one step in one engagement, replacing the default of steps.py (D + day, HH:MM)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="deadline_overrides")
    step_id = models.CharField(_("step"), max_length=8)
    day = models.SmallIntegerField(_("days after D"))
    time = models.CharField(_("time (Beijing)"), max_length=5)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["engagement", "step_id"], name="workflow_deadline_one_per_step")
        ]
        verbose_name = _("deadline")
        verbose_name_plural = _("deadlines")

    def __str__(self) -> str:
        return f"{self.step_id} D{self.day:+d} {self.time}"


class StepInstance(models.Model):
    """A step of 附件二 that a site has (``site`` empty: an engagement-level step, done once by 技术组).

    Steps without output registers are done when evidence is attached and a responsible party confirms it
    (``confirmed_*``); all others are done when their output registers are signed.
    """

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="step_instances")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="step_instances"
    )
    step_id = models.CharField(_("step"), max_length=8)
    phase = models.CharField(_("phase"), max_length=16, choices=Phase.choices)
    created_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_role = models.CharField(max_length=16, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    # 第八条 重要操作双重签字: a step flagged dual_signature that is confirmed by hand (M-02 印章交接) takes a first
    # confirmation here and is done (confirmed_*) only by a second person, of the other side where the step's
    # responsible parties span both.
    first_confirmed_by = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first confirmation by"),
    )
    first_confirmed_role = models.CharField(max_length=16, blank=True)
    first_confirmed_at = models.DateTimeField(_("first confirmation at"), null=True, blank=True)

    class Meta:
        ordering = ["engagement_id", "site_id", "step_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "site", "step_id"],
                condition=Q(site__isnull=False),
                name="workflow_step_once_per_site",
            ),
            models.UniqueConstraint(
                fields=["engagement", "step_id"],
                condition=Q(site__isnull=True),
                name="workflow_step_once_per_engagement",
            ),
        ]
        verbose_name = _("step")
        verbose_name_plural = _("steps")

    def __str__(self) -> str:
        return f"{self.step_id} @ {self.site_id or '-'}"


class StepNote(models.Model):
    """A remark on a step by someone working on it."""

    step = models.ForeignKey(StepInstance, on_delete=models.PROTECT, related_name="notes")
    text = models.TextField(_("note"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return f"{self.step} note {self.pk}"


class Evidence(models.Model):
    """A file attached to a step or to an exception item, stored under HANDOVER_DATA_DIR by its SHA-256."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    step = models.ForeignKey(
        StepInstance, on_delete=models.PROTECT, null=True, blank=True, related_name="evidence"
    )
    name = models.CharField(_("file name"), max_length=200)
    description = models.CharField(_("description"), max_length=300, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    stored_as = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class WorkingGroupReport(models.Model):
    """技术组's report to 托管工作组 of late steps and escalations (第二十七条第2项: 由技术组上报至托管工作组)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="wg_reports")
    text = models.TextField(_("report"))
    reported_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(_("reported at"))

    class Meta:
        ordering = ["-reported_at", "pk"]
        verbose_name = _("report to the working group")
        verbose_name_plural = _("reports to the working group")

    def __str__(self) -> str:
        return f"WG report {self.reported_at:%Y-%m-%d %H:%M}"


class Feedback(models.Model):
    """第二十七条第2项: a step not done in time, reported the same day by the site's 现场技术岗位."""

    step = models.ForeignKey(StepInstance, on_delete=models.PROTECT, related_name="feedback")
    reason = models.TextField(_("reason"))
    expected_at = models.DateTimeField(_("expected completion"))
    reported_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(_("reported at"))
    wg_report = models.ForeignKey(
        WorkingGroupReport, on_delete=models.PROTECT, null=True, blank=True, related_name="feedback"
    )

    class Meta:
        ordering = ["reported_at", "pk"]
        verbose_name = _("same-day feedback")
        verbose_name_plural = _("same-day feedback")

    def __str__(self) -> str:
        return f"feedback on {self.step}"


class Escalation(models.Model):
    """An overdue step with no feedback by the end of its day, raised to 技术组 by the end-of-day task."""

    step = models.OneToOneField(StepInstance, on_delete=models.PROTECT, related_name="escalation")
    raised_at = models.DateTimeField(_("raised at"))
    due_at = models.DateTimeField(_("was due at"))
    wg_report = models.ForeignKey(
        WorkingGroupReport, on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )

    class Meta:
        ordering = ["raised_at", "pk"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")

    def __str__(self) -> str:
        return f"escalation of {self.step}"


class PhaseTransition(models.Model):
    """An engagement moving to its next phase (第五条), signed by the 技术组 member who did it."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="phase_transitions")
    from_phase = models.CharField(max_length=16, choices=Phase.choices)
    to_phase = models.CharField(max_length=16, choices=Phase.choices)
    reason = models.TextField(_("reason"))
    signed_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    basis_form = models.ForeignKey(Form, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["signed_at", "pk"]
        verbose_name = _("phase transition")
        verbose_name_plural = _("phase transitions")

    def __str__(self) -> str:
        return f"{self.from_phase} → {self.to_phase}"


class CaseState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class ExceptionCase(models.Model):
    """One run of a 第二十八条 exception path (paths.py), from the register row where the problem showed to its
    表39 entry. It closes only when that 表39 row is signed and reported to 技术组."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="exception_cases")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="exception_cases")
    path_id = models.CharField(_("exception path"), max_length=3)
    sub_type = models.CharField(_("sub-type"), max_length=20, blank=True)
    source_row = models.ForeignKey(
        Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("source row")
    )
    description = models.TextField(_("description"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    opened_at = models.DateTimeField()
    t39_row = models.ForeignKey(
        Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("表39 entry")
    )
    state = models.CharField(max_length=8, choices=CaseState.choices, default=CaseState.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="open") | Q(closed_at__isnull=False, t39_row__isnull=False),
                name="workflow_case_closed_has_t39",
            )
        ]
        verbose_name = _("exception case")
        verbose_name_plural = _("exception cases")

    def __str__(self) -> str:
        return f"{self.path_id} #{self.pk}"


class CaseRiskAcceptance(models.Model):
    """第二十七条第4项, 第二十八条: a member of the 托管工作组 accepts an exception case still open as a residual
    risk of the handover, with the reason; it then no longer stops the package's approval nor 稳定期, and the
    signed addendum of the approved package names it. Once per case; the case itself stays open until closed."""

    case = models.OneToOneField(ExceptionCase, on_delete=models.PROTECT, related_name="risk_acceptance")
    reason = models.TextField(_("reason"))
    accepted_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    login = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(_("accepted at"))

    class Meta:
        verbose_name = _("residual-risk acceptance")
        verbose_name_plural = _("residual-risk acceptances")

    def __str__(self) -> str:
        return f"{self.case} accepted"


class CaseItem(models.Model):
    """A checklist item of a case, done, with the record it needs (E02's consent, E08's courier number)."""

    case = models.ForeignKey(ExceptionCase, on_delete=models.PROTECT, related_name="items")
    key = models.CharField(max_length=24)
    record = models.CharField(_("record"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    evidence = models.ForeignKey(
        Evidence, on_delete=models.PROTECT, null=True, blank=True, related_name="case_items"
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    done_at = models.DateTimeField()

    class Meta:
        ordering = ["done_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["case", "key"], name="workflow_case_item_once")]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def __str__(self) -> str:
        return f"{self.case} {self.key}"


class DutyShift(models.Model):
    """Who is on duty at a site on a day (第三十一条第8项: 值班, 实时监控); 表41 names them."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="duty_shifts")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="duty_shifts")
    day = models.DateField(_("day"))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="duty_shifts")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "site_id", "person_id"]
        constraints = [models.UniqueConstraint(fields=["site", "day", "person"], name="workflow_duty_once")]
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty roster")

    def __str__(self) -> str:
        return f"{self.day} {self.site_id} {self.person_id}"


class ScopeStamp(models.Model):
    """A token per engagement and scope that the database changes with every write to a table the workflow's
    state reads (stamp.py installs the triggers): ``site_id`` a site (what its step instances read),
    ``stamp.ENGAGEMENT`` (0) what every site reads, ``stamp.STEPS_ONLY`` (-1) what only the engagement-level
    steps read. state.compute keeps each site's part under its site's token. Plain integers, not foreign
    keys: the triggers write the rows, and a site deleted leaves a token that names nothing."""

    engagement_id = models.BigIntegerField()
    site_id = models.BigIntegerField()
    token = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["engagement_id", "site_id"], name="workflow_scopestamp_scope")
        ]

    def __str__(self) -> str:
        return f"{self.engagement_id}/{self.site_id}: {self.token}"

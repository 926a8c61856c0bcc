"""The risk register: likelihood × impact on the matrix (risk/matrix.py), inherent / current / residual,
treatment through a 表40 corrective action, and acceptance with an expiry approved by a second person who
is not the risk's owner (第八条)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person
from handover.registers.models import Row


class Treatment(models.TextChoices):
    OPEN = "open", _("Not yet decided")
    MITIGATE = "mitigate", _("Mitigate")
    ACCEPT = "accept", _("Accept")
    AVOID = "avoid", _("Avoid")
    TRANSFER = "transfer", _("Transfer")


class Risk(models.Model):
    """One risk of the firm's information systems, scored three times: inherent (no controls), current
    (controls in place) and residual (after the planned treatment). Scores are 1..matrix size."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("risk no."), max_length=40)
    title = models.CharField(_("risk"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    system_name = models.CharField(_("system"), max_length=200, blank=True)
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner"))
    inherent_likelihood = models.PositiveSmallIntegerField(_("inherent likelihood"))
    inherent_impact = models.PositiveSmallIntegerField(_("inherent impact"))
    current_likelihood = models.PositiveSmallIntegerField(_("current likelihood"))
    current_impact = models.PositiveSmallIntegerField(_("current impact"))
    residual_likelihood = models.PositiveSmallIntegerField(_("residual likelihood"), null=True, blank=True)
    residual_impact = models.PositiveSmallIntegerField(_("residual impact"), null=True, blank=True)
    treatment = models.CharField(_("treatment"), max_length=10, choices=Treatment.choices, default="open")
    capa_row = models.ForeignKey(
        Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("表40 action")
    )
    report_to_wg = models.BooleanField(_("reported to the working group (第二十条第8项)"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "number"], name="risk_risk_number_once"),
            models.CheckConstraint(
                condition=Q(
                    inherent_likelihood__gte=1,
                    inherent_impact__gte=1,
                    current_likelihood__gte=1,
                    current_impact__gte=1,
                ),
                name="risk_risk_scores_positive",
            ),
            models.CheckConstraint(
                condition=Q(residual_likelihood__isnull=True, residual_impact__isnull=True)
                | Q(residual_likelihood__gte=1, residual_impact__gte=1),
                name="risk_risk_residual_both_or_none",
            ),
        ]
        verbose_name = _("risk")
        verbose_name_plural = _("risks")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class RiskAcceptance(models.Model):
    """A request to accept a risk until ``expires_on``, and its approval. 第八条: the approver is neither the
    person who asked nor the risk's owner (``owner`` is copied from the risk when asked); the database
    refuses a row that breaks this as well as the service."""

    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="acceptances")
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("why the risk may be accepted"))
    expires_on = models.DateField(_("accepted until"))
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="risk_acceptance_has_reason"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | (~Q(approved_by=F("requested_by")) & ~Q(approved_by=F("owner"))),
                name="risk_acceptance_two_persons",
            ),
        ]
        verbose_name = _("risk acceptance")
        verbose_name_plural = _("risk acceptances")

    def __str__(self) -> str:
        return f"{self.risk_id} until {self.expires_on}"


class AssessmentReport(models.Model):
    """One version of a risk-assessment report (第二十条第8项 initial, 第三十二~三十六条 overall): the Word file as
    generated (stored by its hash), who assessed (the professionals, their organisation and qualification, as
    第二十六条第9项 asks of a security assessment) and what was in scope; signed by the assessor, then reviewed by a
    second person (第八条)."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("report"), max_length=10)
    version = models.PositiveIntegerField(_("version"))
    as_of = models.DateField(_("as of"))
    assessors = models.TextField(_("assessors"))
    scope = models.TextField(_("scope"))
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    made_by_name = models.CharField(max_length=150)
    made_at = models.DateTimeField(auto_now_add=True)
    signed_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "kind", "version"], name="risk_assessment_version_once"
            ),
            models.CheckConstraint(
                condition=~Q(assessors="") & ~Q(scope=""), name="risk_assessment_who_and_what"
            ),
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True)
                | (Q(signed_by__isnull=False) & ~Q(reviewed_by=F("signed_by"))),
                name="risk_assessment_two_persons",
            ),
        ]
        verbose_name = _("assessment report")

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}"

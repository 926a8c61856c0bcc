"""What people add to the duty library's automatic view: evidence they link, and duties they mark not
applicable (with a reason). The duties themselves are data (risk/library.py), referred to by code."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement
from handover.registers.models import Row


class DutyEvidence(models.Model):
    """A piece of evidence a person links to a duty: a document, a register row, a reference."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    duty_code = models.CharField(_("duty"), max_length=8, db_index=True)
    description = models.CharField(_("evidence"), max_length=300)
    reference = models.CharField(_("reference (document no., file, address)"), max_length=300, blank=True)
    row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    linked_by_name = models.CharField(max_length=150)
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["duty_code", "linked_at"]
        verbose_name = _("duty evidence")
        verbose_name_plural = _("duty evidence")

    def __str__(self) -> str:
        return f"{self.duty_code}: {self.description}"


class DutyApplicability(models.Model):
    """A person's decision that a duty does (or does not) apply to this firm, always with a reason."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    duty_code = models.CharField(_("duty"), max_length=8)
    applicable = models.BooleanField(_("applicable"))
    reason = models.TextField(_("reason"))
    decided_by_name = models.CharField(max_length=150)
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["engagement", "duty_code"], name="risk_applicability_once"),
            models.CheckConstraint(condition=~Q(reason=""), name="risk_applicability_has_reason"),
        ]
        verbose_name = _("duty applicability")
        verbose_name_plural = _("duty applicability")

    def __str__(self) -> str:
        return f"{self.duty_code}: {self.applicable}"

"""Suppliers (三(二)五 强化对供应商的管理; 督促信息技术系统服务机构履行备案义务): what the firm knows of each
organisation that supplies its information technology, beyond the registers' contracts (表19/35), contacts
(表20) and systems (their vendor): how critical it is, whether it could be replaced, its plan for leaving, and
its 备案 with the reference that proves it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Organisation


class Criticality(models.TextChoices):
    IMPORTANT = "important", _("Important (serves an important system)")
    GENERAL = "general", _("General")


class Substitutability(models.TextChoices):
    EASY = "easy", _("Easily replaced")
    HARD = "hard", _("Replaced with difficulty")
    NONE = "none", _("No replacement known")


class SupplierState(models.TextChoices):
    ACTIVE = "active", _("Serving")
    EXITING = "exiting", _("Leaving")
    EXITED = "exited", _("Left")


class Filing(models.TextChoices):
    NOT_REQUIRED = "not_required", _("Not required")
    REQUIRED = "required", _("Required, not filed")
    FILED = "filed", _("Filed")


class Supplier(models.Model):
    """The management facts of one supplying organisation. ``filing`` 已备案 carries its reference and date."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    services = models.CharField(_("services"), max_length=300, blank=True)
    criticality = models.CharField(_("criticality"), max_length=10, choices=Criticality.choices)
    substitutability = models.CharField(
        _("substitutability"), max_length=10, choices=Substitutability.choices
    )
    state = models.CharField(_("state"), max_length=10, choices=SupplierState.choices, default="active")
    exit_plan = models.TextField(_("exit plan"), blank=True)
    filing = models.CharField(_("备案"), max_length=14, choices=Filing.choices)
    filing_reference = models.CharField(_("备案 reference"), max_length=200, blank=True)
    filed_on = models.DateField(_("filed on"), null=True, blank=True)
    updated_by_name = models.CharField(max_length=150)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation__name"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "organisation"], name="risk_supplier_once"),
            models.CheckConstraint(
                condition=~Q(filing="filed") | (~Q(filing_reference="") & Q(filed_on__isnull=False)),
                name="risk_supplier_filed_has_evidence",
            ),
        ]
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")

    def __str__(self) -> str:
        return str(self.organisation_id)

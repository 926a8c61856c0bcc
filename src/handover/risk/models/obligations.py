"""Reports owed to the regulator (三(七)一 报告义务和流程要求): what was filed and when, with the receipt's reference,
for the items of the catalogue that Handover cannot see being done by itself (the annual security report, the
表1–4 returns' receipt). Incident reports are done on their clocks, drills by being held, 表24 by being signed."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement


class ReportFiling(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=100)  # "annual:2025", "return:<form no.>"
    title = models.CharField(_("report"), max_length=200)
    filed_at = models.DateTimeField(_("filed at"))
    reference = models.CharField(_("receipt"), max_length=300)
    filed_by_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["-filed_at"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "key"], name="risk_filing_once"),
            models.CheckConstraint(condition=~Q(reference=""), name="risk_filing_has_receipt"),
        ]
        verbose_name = _("filing")

    def __str__(self) -> str:
        return self.key

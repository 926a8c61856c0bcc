"""Capacity and pressure tests (三(二)四 常态化开展压力测试): per important system, the historical peak of a measure of
load, the capacity a pressure test reached and when, the ratio of the two against a minimum, and the test's
report, kept at least five years (deletion before then is refused, naming the date)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement
from handover.registers.models import InformationSystem


class CapacityRecord(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    system = models.ForeignKey(
        InformationSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    system_name = models.CharField(_("system"), max_length=200)
    metric = models.CharField(_("measure"), max_length=100)
    peak = models.DecimalField(_("historical peak"), max_digits=14, decimal_places=2)
    peak_on = models.DateField(_("peak on"))
    tested = models.DecimalField(_("tested capacity"), max_digits=14, decimal_places=2)
    tested_on = models.DateField(_("tested on"))
    report_name = models.CharField(_("report"), max_length=255)
    report_sha256 = models.CharField(max_length=64)
    report_size = models.PositiveBigIntegerField(default=0)
    retain_until = models.DateField(_("kept until"))
    recorded_by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["system_name", "-tested_on"]
        constraints = [
            models.CheckConstraint(condition=Q(peak__gt=0) & Q(tested__gt=0), name="risk_capacity_positive"),
            models.CheckConstraint(condition=~Q(report_sha256=""), name="risk_capacity_has_report"),
        ]
        verbose_name = _("capacity record")

    def __str__(self) -> str:
        return f"{self.system_name} {self.tested_on}"

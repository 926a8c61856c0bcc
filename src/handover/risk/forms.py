"""Page forms of security management: shape only; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.risk.models import ClockKind


class IncidentForm(forms.Form):
    number = forms.CharField(label=_("Incident no."), max_length=40)
    title = forms.CharField(label=_("Title"), max_length=200)
    system_name = forms.CharField(label=_("System"), max_length=200)
    system_class = forms.IntegerField(label=_("System class (1-5)"), min_value=1, max_value=5,
                                      help_text=_("五类 is the most important."))  # fmt: skip
    trading_system = forms.BooleanField(label=_("A trading system"), required=False)
    detected_at = forms.DateTimeField(label=_("Detected at"), help_text=_("e.g. 2026-12-09 10:00"))
    down_minutes = forms.IntegerField(label=_("Service impaired (minutes)"), min_value=0, initial=0)
    affected_pct = forms.DecimalField(label=_("Users affected (%)"), min_value=0, max_value=100, initial=0)
    leaked_records = forms.IntegerField(label=_("Investor records leaked"), min_value=0, initial=0)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea, required=False)


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("Report"), choices=ClockKind.choices)
    text = forms.CharField(label=_("What was reported, to whom"), max_length=500)


class EvidenceForm(forms.Form):
    duty = forms.CharField(label=_("Duty (M01–M39)"), max_length=8)
    description = forms.CharField(label=_("Evidence"), max_length=300)
    reference = forms.CharField(label=_("Reference"), max_length=300, required=False)

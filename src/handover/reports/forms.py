"""Forms of the package page: shape only; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Site, SiteLevel
from handover.reports.models import HashAlgorithm, Recipient

_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class BuildForm(forms.Form):
    residual_risk = forms.CharField(
        label=_("Residual-risk reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required while sites are not done: why the handover closes with residual risks."),
    )
    summary = forms.CharField(
        label=_("Overall summary (第二十七条第3项)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    algorithm = forms.ChoiceField(
        label=_("Hash"), choices=HashAlgorithm.choices, initial=HashAlgorithm.SHA256
    )


class ApprovalForm(forms.Form):
    approver = forms.CharField(label=_("Approved by (working group)"), max_length=150)
    approved_at = forms.DateTimeField(label=_("Approved at"), widget=_WHEN)
    reference = forms.CharField(label=_("Reference of the approval"), max_length=200, required=False)


class DistributionForm(forms.Form):
    recipient = forms.ChoiceField(label=_("Recipient"), choices=Recipient.choices)
    site = forms.ModelChoiceField(label=_("Branch"), queryset=Site.objects.none(), required=False)
    sent_at = forms.DateTimeField(label=_("Sent at"), widget=_WHEN)
    means = forms.CharField(label=_("Sent by way of"), max_length=200, required=False)

    def __init__(self, *args: Any, engagement: Engagement, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        branches = Site.objects.filter(engagement=engagement, level=SiteLevel.BRANCH, is_active=True)
        self.fields["site"].queryset = branches  # type: ignore[attr-defined]

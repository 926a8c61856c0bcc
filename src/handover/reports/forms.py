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
        label=_("Overall summary (第二十七条第3项)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "技术组's written summary of the handover for 表24; left empty, the latest note on N-03 is used."
        ),
    )
    algorithm = forms.ChoiceField(
        label=_("Hash"), choices=HashAlgorithm.choices, initial=HashAlgorithm.SHA256
    )


class ApprovalForm(forms.Form):
    """The working-group member's own approval (第二十七条第4项): a fresh code, never a typed name or time."""

    reference = forms.CharField(
        label=_("Reference of the approval"),
        max_length=200,
        required=False,
        help_text=_("The working group's document number, if it issues one (e.g. 批复〔2026〕1号)."),
    )
    residual_risk_read = forms.BooleanField(label=_("I have read the residual risk"), required=False)
    totp_code = forms.CharField(
        label=_("Authenticator code"),
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class DistributionForm(forms.Form):
    recipient = forms.ChoiceField(label=_("Recipient"), choices=Recipient.choices)
    site = forms.ModelChoiceField(label=_("Branch"), queryset=Site.objects.none(), required=False)
    sent_at = forms.DateTimeField(label=_("Sent at"), widget=_WHEN)
    means = forms.CharField(label=_("Sent by way of"), max_length=200, required=False)

    def __init__(self, *args: Any, engagement: Engagement, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        branches = Site.objects.filter(engagement=engagement, level=SiteLevel.BRANCH, is_active=True)
        self.fields["site"].queryset = branches  # type: ignore[attr-defined]

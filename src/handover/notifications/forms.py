from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.notifications import topics
from handover.notifications.models import Channel


class SubscriptionForm(forms.Form):
    topic = forms.ChoiceField(label=_("Event type"))
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    target = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=500,
        help_text=_("Email address, or the robot's webhook URL; empty for in-app messages."),
    )
    digest = forms.BooleanField(label=_("Once a day, in one message"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topic"].choices = topics.choices()  # type: ignore[attr-defined]

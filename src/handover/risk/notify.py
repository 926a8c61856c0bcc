"""The one door of this app to the notifications: when they move to their own app, this line is re-pointed."""

from __future__ import annotations

from typing import Any

from handover.workflow.models import Topic
from handover.workflow.notifications import notify

REMINDER = Topic.REMINDER
ESCALATION = Topic.ESCALATION


def tell(**kwargs: Any) -> Any:
    """``notify(engagement=, topic=, title=, body=, link=, summary_title=)``: 技术组 (details) and the
    working group's observers (the summary title) who subscribed to the topic."""
    return notify(**kwargs)

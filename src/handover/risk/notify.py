"""The one door of this app to the notifications app."""

from __future__ import annotations

from typing import Any

from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.risk.topics import ESCALATION, REMINDER

__all__ = ["ESCALATION", "REMINDER", "Link", "tell"]


def tell(**kwargs: Any) -> Any:
    """``notify(engagement=, topic=, title=, body=, link=, summary_title=)``: the topic's default audience
    (risk managers for reminders; 技术组 and the working group's observers, by the summary title, when late)."""
    return notify(**kwargs)

"""The one check of every read here."""

from __future__ import annotations

from handover.core.actors import Actor
from handover.org.models import Engagement
from handover.org.selectors import require


def visible(user: Actor, engagement: Engagement, capability: str) -> None:
    """The user holds ``capability`` somewhere in the engagement (records here have no site)."""
    require(user=user, engagement=engagement, capability=capability)

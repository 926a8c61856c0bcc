"""Reads of incidents and their reporting clocks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk.models import Incident, ReportClock
from handover.risk.selectors.common import visible


def incident_list(*, user: Actor, engagement: Engagement) -> QuerySet[Incident]:
    """The engagement's incidents, newest first, with their clocks."""
    visible(user, engagement, perms.VIEW_RISK)
    return Incident.objects.filter(engagement=engagement).prefetch_related(
        Prefetch("clocks", queryset=ReportClock.objects.order_by("due_at", "pk"))
    )


def incident_get(*, user: Actor, engagement: Engagement, incident_id: int) -> Incident:
    found = incident_list(user=user, engagement=engagement).filter(pk=incident_id).first()
    if found is None:
        raise NotFound(f"incident {incident_id}", field="incident")
    return found


@dataclass(frozen=True)
class Due:
    """One thing owed, for the deadlines list: what, on which record, when, and whether it is late."""

    what: str
    ref: str
    due_at: dt.datetime
    overdue: bool


def clocks_open(*, user: Actor, engagement: Engagement, now: dt.datetime) -> list[Due]:
    """Reports still owed on the engagement's incidents, earliest first."""
    visible(user, engagement, perms.VIEW_RISK)
    owed = ReportClock.objects.filter(
        incident__engagement=engagement, done_at__isnull=True, cancelled_at__isnull=True
    ).select_related("incident")
    return [
        Due(f"{c.get_kind_display()}#{c.seq}", c.incident.number, c.due_at, c.due_at <= now)
        for c in owed.order_by("due_at", "pk")
    ]

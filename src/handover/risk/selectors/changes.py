"""Reads of change management: the changes with their approvals and what stands in the way of each starting,
the freeze periods, and what is owed (a notice to publish, a window to keep)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk.models import Change, ChangeState, FreezePeriod
from handover.risk.selectors.common import visible

OPEN = (ChangeState.REQUESTED, ChangeState.APPROVED)


def notice_due(change: Change) -> dt.datetime:
    """When the investors' notice must be published at the latest (HANDOVER_CHANGE_NOTICE_DAYS before)."""
    return change.window_start - dt.timedelta(days=int(getattr(settings, "HANDOVER_CHANGE_NOTICE_DAYS", 3)))


def change_list(*, user: Actor, engagement: Engagement) -> list[Change]:
    visible(user, engagement, perms.VIEW_RISK)
    return list(
        Change.objects.filter(engagement=engagement)
        .select_related("requested_by", "executed_by")
        .prefetch_related("approvals__person")
    )


def change_get(*, user: Actor, engagement: Engagement, number: str) -> Change:
    visible(user, engagement, perms.VIEW_RISK)
    found = (
        Change.objects.filter(engagement=engagement, number=number)
        .select_related("engagement", "requested_by", "executed_by", "t36_row__form")
        .prefetch_related("approvals__person")
        .first()
    )
    if found is None:
        raise Http404(number)
    return found


def freeze_list(*, user: Actor, engagement: Engagement, today: dt.date) -> list[FreezePeriod]:
    visible(user, engagement, perms.VIEW_RISK)
    return list(
        FreezePeriod.objects.filter(engagement=engagement, ends_on__gte=today - dt.timedelta(days=30))
    )


@dataclass(frozen=True)
class Owed:
    change: Change
    what: str  # "notice" or "window"
    due_at: dt.datetime


def owed(*, engagement: Engagement) -> list[Owed]:
    """Open changes' notices still to publish, and approved changes' windows not yet used."""
    found: list[Owed] = []
    for change in Change.objects.filter(engagement=engagement, state__in=OPEN, executed_at__isnull=True):
        if change.notice_required and change.notice_published_at is None:
            found.append(Owed(change, "notice", notice_due(change)))
        if change.state == ChangeState.APPROVED:
            found.append(Owed(change, "window", change.window_end))
    return found

"""稳定期 reads: feedback and escalations not yet reported, the duty roster, the deadline table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.workflow import deadlines, state, steps
from handover.workflow.models import (
    DutyShift,
    Escalation,
    Feedback,
)
from handover.workflow.selectors.common import _scope, _sites


def unreported(*, user: Actor, engagement: Engagement) -> tuple[list[Feedback], list[Escalation]]:
    """Feedback and escalations not yet covered by a report to the working group (技术组's view)."""
    if _scope(user, engagement, perms.MANAGE_WORKFLOW) != Q():
        raise PermissionDenied(_("You do not have the role needed for this here."))
    feedback = Feedback.objects.filter(step__engagement=engagement, wg_report__isnull=True).select_related(
        "step__site", "reported_by"
    )
    escalations = Escalation.objects.filter(
        step__engagement=engagement, wg_report__isnull=True
    ).select_related("step__site")
    return list(feedback), list(escalations)


def duty_roster(*, user: Actor, engagement: Engagement, start: dt.date, end: dt.date) -> QuerySet[DutyShift]:
    """Who is on duty at the user's sites from ``start`` to ``end``."""
    return (
        DutyShift.objects.filter(
            engagement=engagement,
            day__range=(start, end),
            site__in=_sites(user, engagement, perms.VIEW_WORKFLOW),
        )
        .select_related("site", "person")
        .order_by("day", "site__path", "person__name")
    )


@dataclass(frozen=True)
class DeadlineRow:
    step: steps.Step
    default: dt.datetime | None
    due: dt.datetime | None

    @property
    def changed(self) -> bool:
        return self.default != self.due


def deadline_table(*, user: Actor, engagement: Engagement) -> list[DeadlineRow]:
    """Every step's default deadline and the one in force for the engagement (技术组's view)."""
    _scope(user, engagement, perms.MANAGE_WORKFLOW)
    overrides = state.overrides_of(engagement)
    d = engagement.disposal_date
    return [
        DeadlineRow(s, deadlines.due_at(s.id, d), deadlines.due_at(s.id, d, overrides)) for s in steps.STEPS
    ]

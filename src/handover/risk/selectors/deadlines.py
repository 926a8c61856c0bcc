"""What is due and overdue across the parts: reports owed on incidents, drills planned, acceptances ending."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk.models import Drill, RiskAcceptance
from handover.risk.selectors.common import visible
from handover.risk.selectors.incidents import Due, clocks_open
from handover.workflow.deadlines import BEIJING


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=BEIJING)


def deadlines(*, user: Any, engagement: Engagement, now: dt.datetime) -> list[Due]:
    """Everything owed, earliest first; ``overdue`` when its time has passed."""
    visible(user, engagement, perms.VIEW_RISK)
    found = clocks_open(user=user, engagement=engagement, now=now)
    for drill in Drill.objects.filter(engagement=engagement, held_on__isnull=True).select_related(
        "plan_version__plan"
    ):
        due = _end_of(drill.due_on)
        found.append(Due(_("Drill: %(scenario)s") % {"scenario": drill.get_scenario_display()},
                         drill.plan_version.plan.title, due, due <= now))  # fmt: skip
    accepted = RiskAcceptance.objects.filter(risk__engagement=engagement, approved_at__isnull=False)
    for acceptance in accepted.select_related("risk"):
        due = _end_of(acceptance.expires_on)
        found.append(Due(_("Risk acceptance ends"), acceptance.risk.number, due, due <= now))
    return sorted(found, key=lambda d: (d.due_at, d.ref))

"""Reads of plans and drills: the coverage matrix of the required scenarios, and the drills due or late."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk import rules
from handover.risk.models import REQUIRED_SCENARIOS, Drill, EmergencyPlan, PlanVersion, Scenario
from handover.risk.selectors.common import visible


def plan_list(*, user: Actor, engagement: Engagement) -> QuerySet[EmergencyPlan]:
    visible(user, engagement, perms.VIEW_RISK)
    return EmergencyPlan.objects.filter(engagement=engagement).prefetch_related("versions")


def drill_list(*, user: Actor, engagement: Engagement) -> QuerySet[Drill]:
    visible(user, engagement, perms.VIEW_RISK)
    return (
        Drill.objects.filter(engagement=engagement)
        .select_related("plan_version__plan")
        .prefetch_related("findings")
    )


@dataclass(frozen=True)
class Coverage:
    scenario: str
    label: str
    required: bool
    plans: tuple[str, ...]  # "title vN" of the latest versions covering it
    last_drill: dt.date | None
    drill_due: bool  # required, and no drill held within the interval


def coverage_matrix(*, user: Actor, engagement: Engagement, today: dt.date) -> list[Coverage]:
    """For each scenario: the plans (latest versions) covering it, and its last drill."""
    visible(user, engagement, perms.VIEW_RISK)
    latest: dict[int, PlanVersion] = {}
    for version in PlanVersion.objects.filter(plan__engagement=engagement).select_related("plan"):
        if version.plan_id not in latest or version.version > latest[version.plan_id].version:
            latest[version.plan_id] = version
    held: dict[str, dt.date] = {}
    for scenario, day in Drill.objects.filter(engagement=engagement, held_on__isnull=False).values_list(
        "scenario", "held_on"
    ):
        if day is not None:
            held[scenario] = max(day, held.get(scenario, day))
    interval = dt.timedelta(days=rules.current().drill_interval_days)
    lines = []
    for scenario in Scenario:
        required = scenario in REQUIRED_SCENARIOS
        plans = tuple(
            f"{v.plan.title} v{v.version}" for v in latest.values() if scenario.value in v.scenarios
        )
        last = held.get(scenario.value)
        lines.append(Coverage(scenario.value, str(scenario.label), required, plans, last,
                              required and (last is None or last + interval < today)))  # fmt: skip
    return lines


def drills_overdue(*, user: Actor, engagement: Engagement, today: dt.date) -> list[Drill]:
    """Drills planned for a day that has passed and not recorded as held."""
    return list(drill_list(user=user, engagement=engagement).filter(held_on__isnull=True, due_on__lt=today))

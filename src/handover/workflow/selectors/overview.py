"""The engagement's overview: per-site rows, the late and the blocked, completion, the heatmap, the 表24
counts and the observers' summary."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Role, Site, SiteLevel
from handover.workflow import deadlines, gates, paths, state, steps
from handover.workflow.models import (
    CaseState,
    Escalation,
    ExceptionCase,
    Feedback,
)
from handover.workflow.selectors.common import GATED_SHOWN, OVERDUE_SHOWN, PHASES, _scope, _sites


@dataclass
class SiteRow:
    """A site's line of the heat map: its step of each column, None where the site does not have it."""

    site: Site
    cells: list[state.StepView | None]
    done: int
    total: int
    overdue: int


@dataclass
class Overview:
    """The engagement at a glance (issue 4 dashboards)."""

    now: dt.datetime
    phase: str
    columns: list[steps.Step]
    column_groups: list[tuple[str, int]]  # (phase label, how many columns), in the columns' order
    rows: list[SiteRow]
    engagement_steps: list[state.StepView]
    by_phase: list[tuple[str, int, int]]
    by_level: list[tuple[str, int, int]]
    overdue: Sequence[tuple[Site | None, state.StepView]]
    open_cases: list[tuple[str, str, int]]
    sites_without_onsite_post: list[Site]
    trend: list[tuple[int, int]]
    overdue_total: int = 0
    state_counts: dict[str, int] = field(default_factory=dict)
    gated: Sequence[tuple[Site | None, state.StepView]] = ()
    gated_total: int = 0
    # What the view makes of the rows (the heat map's HTML), kept with them while the state is (state.derived).
    made: dict[str, Any] = field(default_factory=dict)


def _in_scope(views: dict[state.Key, state.StepView], site_ids: set[int]) -> list[state.StepView]:
    return [v for v in views.values() if v.site_id is None or v.site_id in site_ids]


def _as_told(
    user: Actor, engagement: Engagement, views: list[state.StepView], site_ids: set[int] | None = None
) -> None:
    """Rewrite, in this request's list ``views``, the gate reasons that name sites (gates.SiteReason: the
    open exception cases N-04 waits for) for a user limited to part of the site tree: they name only the
    user's sites and count the others (第十一条). ``site_ids``: the user's sites, read here if not given.
    A view so rewritten is replaced in the list by a copy: the views of state.compute are shared."""
    if _scope(user, engagement, perms.VIEW_WORKFLOW) == Q():
        return
    named = [i for i, v in enumerate(views) if any(isinstance(r, gates.SiteReason) for r in v.gate_reasons)]
    if not named:
        return
    if site_ids is None:
        site_ids = set(_sites(user, engagement, perms.VIEW_WORKFLOW).values_list("pk", flat=True))
    for i in named:
        view = views[i]
        views[i] = dataclasses.replace(
            view, gate_reasons=tuple(gates.within(reason, site_ids) for reason in view.gate_reasons)
        )


def _completion(
    items: list[state.StepView], labels: Sequence[tuple[str, Any]], key: Any
) -> list[tuple[str, int, int]]:
    totals = Counter(key(view) for view in items)
    done = Counter(key(view) for view in items if view.finished)
    return [(str(label), done[value], totals[value]) for value, label in labels if totals[value]]


def _trend(items: list[state.StepView], now: dt.datetime) -> list[tuple[int, int]]:
    """Steps done by each hour of today (Beijing), cumulative: the handover day's progress."""
    local = now.astimezone(deadlines.BEIJING)
    start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=deadlines.BEIJING)
    times = sorted(v.done_at for v in items if v.finished and v.done_at is not None)
    return [
        (hour, bisect.bisect_left(times, start + dt.timedelta(hours=hour + 1)))
        for hour in range(local.hour + 1)
    ]


def overview(*, user: Actor, engagement: Engagement, now: dt.datetime) -> Overview:
    """Sites × steps with their states, completion per phase and level, overdue steps, open exceptions by
    type, sites without a 现场技术岗位 and the day's trend, for the sites in the user's scope."""
    sites = list(
        _sites(user, engagement, perms.VIEW_WORKFLOW)
        .annotate(
            n_onsite=Count(
                "role_assignments",
                filter=Q(role_assignments__role=Role.ONSITE_POST, role_assignments__revoked_at__isnull=True),
                distinct=True,
            )
        )
        .order_by("path")
    )
    site_ids = {s.pk for s in sites}
    views = state.compute(engagement=engagement, now=now)
    # Derived once per kept state, for these sites, this hour (the trend) and language: the rows reuse the
    # Site objects of the request that made them (what they show of a site is watched by the stamp).
    key = ("overview", frozenset(site_ids), now.astimezone(deadlines.BEIJING).hour, get_language())
    data = state.derived(views, key, lambda: _overview(user, engagement, now, views, sites))
    return dataclasses.replace(
        data,
        now=now,
        open_cases=open_cases_by_type(user=user, engagement=engagement),
        sites_without_onsite_post=[s for s in sites if s.n_onsite == 0],
    )


def _overview(
    user: Actor,
    engagement: Engagement,
    now: dt.datetime,
    views: dict[state.Key, state.StepView],
    sites: Sequence[Site],
) -> Overview:
    site_ids = {s.pk for s in sites}
    mine = _in_scope(views, site_ids)
    _as_told(user, engagement, mine, site_ids)
    phase = engagement.phase
    columns, groups = heatmap_columns(phase)
    column_ids = [s.id for s in columns]
    at_site: dict[int | None, dict[str, state.StepView]] = {}
    for v in mine:
        at_site.setdefault(v.site_id, {})[v.step.id] = v
    rows = []
    for site in sites:
        here = at_site.get(site.pk, {})
        cells = [here.get(step_id) for step_id in column_ids]
        present = [v for v in cells if v is not None]
        rows.append(
            SiteRow(
                site,
                cells,
                sum(v.finished for v in present),
                len(present),
                sum(v.state == state.OVERDUE for v in present),
            )
        )
    by_site = {s.pk: s for s in sites}
    current = [v for v in mine if v.step.phase == phase]
    overdue = sorted(
        # N-01, N-02, N-05 are late because a step they watch is: listed once, as that step.
        (
            (by_site.get(v.site_id) if v.site_id else None, v)
            for v in mine
            if v.state == state.OVERDUE and not v.step.derived
        ),
        key=lambda pair: (pair[1].due or now, pair[1].step.id),
    )
    gated = [
        (by_site.get(v.site_id) if v.site_id else None, v)
        for v in sorted(
            (v for v in mine if v.gate_reasons), key=lambda v: (v.site_id or 0, steps.ORDER[v.step.id])
        )
    ]
    return Overview(
        now=now,
        phase=phase,
        columns=columns,
        column_groups=groups,
        rows=rows,
        engagement_steps=sorted(at_site.get(None, {}).values(), key=lambda v: steps.ORDER[v.step.id]),
        by_phase=_completion(mine, Phase.choices, lambda v: v.step.phase),
        by_level=_completion(
            [v for v in current if v.site_id is not None],
            SiteLevel.choices,
            lambda v: by_site[v.site_id].level,
        ),
        overdue=overdue[:OVERDUE_SHOWN],
        overdue_total=len(overdue),
        open_cases=[],
        sites_without_onsite_post=[],
        trend=_trend([v for v in current if v.site_id is not None], now),
        state_counts=dict(Counter(v.state for v in current)),
        gated=gated[:GATED_SHOWN],
        gated_total=len(gated),
    )


def heatmap_columns(phase: str) -> tuple[list[steps.Step], list[tuple[str, int]]]:
    """The per-site steps of the phases reached so far, grouped by phase: in 交接期 its steps, in 稳定期 those
    of 交接期 and then of 稳定期 (a site's 交接期 record stays in view)."""
    reached = PHASES[: PHASES.index(Phase(phase)) + 1]
    columns: list[steps.Step] = []
    groups: list[tuple[str, int]] = []
    for each in reached:
        mine = [s for s in steps.STEPS if s.per_site and s.phase == each]
        if mine:
            columns += mine
            groups.append((str(Phase(each).label), len(mine)))
    return columns, groups


def open_cases_by_type(*, user: Actor, engagement: Engagement) -> list[tuple[str, str, int]]:
    """Open exception cases per path, at the user's sites: (path id, name, count)."""
    counts = dict(
        ExceptionCase.objects.filter(
            engagement=engagement,
            state=CaseState.OPEN,
            site__in=_sites(user, engagement, perms.VIEW_WORKFLOW),
        )
        .values_list("path_id")
        .annotate(n=Count("id"))
        .values_list("path_id", "n")
    )
    return [(p.id, p.zh, counts[p.id]) for p in paths.PATHS if counts.get(p.id)]


@dataclass(frozen=True)
class Table24Counts:
    """What 表24 counts from the workflow (第二十七条第2项, 第二十八条)."""

    feedback: int
    feedback_reported_wg: int
    escalations: int
    escalations_reported_wg: int
    open_cases: int
    closed_cases: int
    open_by_path: dict[str, int]


def feedback_lines(engagement_id: int) -> set[tuple[int, int]]:
    """(site, register) pairs whose step the site reported late the same day (第二十七条第2项): 表24's
    当日已反馈 reads these (registers/hooks.py), so a site that reported is not shown as silent."""
    pairs = Feedback.objects.filter(step__engagement_id=engagement_id, step__site__isnull=False).values_list(
        "step__site_id", "step__step_id"
    )
    return {
        (site_id, number) for site_id, step_id in pairs.distinct() for number in steps.BY_ID[step_id].outputs
    }


def table24_counts(*, user: Actor, engagement: Engagement) -> Table24Counts:
    """Counts of same-day feedback, escalations and exception cases for 表24, over the whole engagement
    (表24 is 技术组's: it needs the engagement-wide view)."""
    if _scope(user, engagement, perms.VIEW_WORKFLOW) != Q():
        raise PermissionDenied(_("表24 counts cover the whole engagement; they are 技术组's."))
    feedback = Feedback.objects.filter(step__engagement=engagement).aggregate(
        n=Count("id"), reported=Count("id", filter=Q(wg_report__isnull=False))
    )
    escalations = Escalation.objects.filter(step__engagement=engagement).aggregate(
        n=Count("id"), reported=Count("id", filter=Q(wg_report__isnull=False))
    )
    cases = Counter(
        ExceptionCase.objects.filter(engagement=engagement).values_list("state", "path_id").iterator()
    )
    return Table24Counts(
        feedback=feedback["n"],
        feedback_reported_wg=feedback["reported"],
        escalations=escalations["n"],
        escalations_reported_wg=escalations["reported"],
        open_cases=sum(n for (s, _p), n in cases.items() if s == CaseState.OPEN),
        closed_cases=sum(n for (s, _p), n in cases.items() if s == CaseState.CLOSED),
        open_by_path={p: n for (s, p), n in sorted(cases.items()) if s == CaseState.OPEN},
    )


@dataclass(frozen=True)
class ObserverSummary:
    """Counts only, for 托管工作组 and 证监局: no people, no site names."""

    phase: str
    by_phase: list[tuple[str, int, int]]
    by_level: list[tuple[str, int, int]]
    overdue: int
    open_cases: list[tuple[str, str, int]]
    feedback: int
    escalations: int
    sites: int


def observer_summary(*, user: Actor, engagement: Engagement, now: dt.datetime) -> ObserverSummary:
    """The read-only summary an observer gets (view_summary), at the user's scope."""
    sites = {s.pk: s.level for s in _sites(user, engagement, perms.VIEW_SUMMARY).only("pk", "level")}
    views = state.compute(engagement=engagement, now=now)
    data = state.derived(
        views,
        ("summary", frozenset(sites.items()), get_language()),
        lambda: _summary_counts(engagement, views, sites),
    )
    open_counts = Counter(
        ExceptionCase.objects.filter(
            engagement=engagement, state=CaseState.OPEN, site_id__in=list(sites)
        ).values_list("path_id", flat=True)
    )
    return dataclasses.replace(
        data, open_cases=[(p.id, p.zh, open_counts[p.id]) for p in paths.PATHS if open_counts.get(p.id)]
    )


def _summary_counts(
    engagement: Engagement, views: dict[state.Key, state.StepView], sites: dict[int, str]
) -> ObserverSummary:
    mine = _in_scope(views, set(sites))
    current = [v for v in mine if v.step.phase == engagement.phase and v.site_id is not None]
    counts: Counter[str] = Counter()
    for v in mine:
        counts["feedback"] += v.feedback_count
        counts["escalations"] += v.escalated_at is not None
    return ObserverSummary(
        phase=engagement.phase,
        by_phase=_completion(mine, Phase.choices, lambda v: v.step.phase),
        by_level=_completion(current, SiteLevel.choices, lambda v: sites[v.site_id]),
        overdue=sum(v.state == state.OVERDUE and not v.step.derived for v in mine),
        open_cases=[],
        feedback=counts["feedback"],
        escalations=counts["escalations"],
        sites=len(sites),
    )

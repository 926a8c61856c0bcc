"""Reads of the workflow, filtered to what the user may see (org.selectors scopes: a role at a site sees its
subtree). The overview is computed in a fixed number of queries, whatever the number of sites and steps.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from handover.core.errors import NotFound, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Role, Site, SiteLevel
from handover.org.selectors import site_scope
from handover.registers import catalogue
from handover.workflow import deadlines, gates, paths, state, steps
from handover.workflow.models import (
    CaseState,
    DutyShift,
    Escalation,
    Evidence,
    ExceptionCase,
    Feedback,
    StepInstance,
)

PHASES = (Phase.PREPARATION, Phase.HANDOVER, Phase.STABILISATION)
OVERDUE_SHOWN = 30  # the longest-late first; the page says how many more there are
GATED_SHOWN = 30  # steps a register rule blocks, in site and step order; the page says how many more


def _scope(user: Any, engagement: Engagement, capability: str) -> Q:
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        raise PermissionDenied(_("You do not have the role needed for this here."))
    return scope


def _sites(user: Any, engagement: Engagement, capability: str) -> QuerySet[Site]:
    return Site.objects.filter(_scope(user, engagement, capability), engagement=engagement, is_active=True)


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


def _in_scope(views: dict[state.Key, state.StepView], site_ids: set[int]) -> list[state.StepView]:
    return [v for v in views.values() if v.site_id is None or v.site_id in site_ids]


def _as_told(
    user: Any, engagement: Engagement, views: Sequence[state.StepView], site_ids: set[int] | None = None
) -> None:
    """Rewrite, in this request's own ``views``, the gate reasons that name sites (gates.SiteReason: the
    open exception cases N-04 waits for) for a user limited to part of the site tree: they name only the
    user's sites and count the others (第十一条). ``site_ids``: the user's sites, read here if not given."""
    if _scope(user, engagement, perms.VIEW_WORKFLOW) == Q():
        return
    named = [v for v in views if any(isinstance(r, gates.SiteReason) for r in v.gate_reasons)]
    if not named:
        return
    if site_ids is None:
        site_ids = set(_sites(user, engagement, perms.VIEW_WORKFLOW).values_list("pk", flat=True))
    for view in named:
        view.gate_reasons = tuple(gates.within(reason, site_ids) for reason in view.gate_reasons)


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


def overview(*, user: Any, engagement: Engagement, now: dt.datetime) -> Overview:
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
        open_cases=open_cases_by_type(user=user, engagement=engagement),
        sites_without_onsite_post=[s for s in sites if s.n_onsite == 0],
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


def open_cases_by_type(*, user: Any, engagement: Engagement) -> list[tuple[str, str, int]]:
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


@dataclass
class SitePage:
    site: Site
    views: list[state.StepView]
    cases: list[ExceptionCase]
    feedback: list[Feedback]
    groups: list[tuple[str, list[state.StepView]]] = field(default_factory=list)  # by phase, in order


def site_page(*, user: Any, engagement: Engagement, site_id: int, now: dt.datetime) -> SitePage:
    """One site's steps with state, deadline and feedback, and its exception cases."""
    site = _sites(user, engagement, perms.VIEW_WORKFLOW).filter(pk=site_id).first()
    if site is None:
        raise NotFound(_("No site %(id)s is open to you in this engagement.") % {"id": site_id}, field="site")
    views = state.compute(engagement=engagement, now=now)
    mine = sorted((v for v in views.values() if v.site_id == site.pk), key=lambda v: steps.ORDER[v.step.id])
    return SitePage(
        site=site,
        views=mine,
        groups=[
            (str(label), [v for v in mine if v.step.phase == value])
            for value, label in Phase.choices
            if any(v.step.phase == value for v in mine)
        ],
        cases=list(ExceptionCase.objects.filter(engagement=engagement, site=site).order_by("-opened_at")),
        feedback=list(
            Feedback.objects.filter(step__site=site)
            .select_related("step", "reported_by")
            .order_by("-reported_at")
        ),
    )


def step_get(
    *, user: Any, engagement: Engagement, instance_id: int, capability: str = perms.VIEW_WORKFLOW
) -> StepInstance:
    """A step instance at a site the user may act on with ``capability`` (engagement-level ones for any
    holder of it)."""
    scope = _scope(user, engagement, capability)
    instance = (
        StepInstance.objects.filter(engagement=engagement, pk=instance_id)
        .filter(Q(site__isnull=True) | Q(site__in=Site.objects.filter(scope, engagement=engagement)))
        .select_related("site", "engagement", "confirmed_by")
        .first()
    )
    if instance is None:
        raise NotFound(
            _("No step %(id)s is open to you in this engagement.") % {"id": instance_id}, field="step"
        )
    return instance


def step_view(
    *, user: Any, engagement: Engagement, instance: StepInstance, now: dt.datetime
) -> state.StepView:
    """The derived state of one step instance (the caller has read it through ``step_get``), its reasons as
    the user may read them."""
    view = state.compute(engagement=engagement, now=now)[(instance.site_id, instance.step_id)]
    _as_told(user, engagement, [view])
    return view


def case_get(
    *, user: Any, engagement: Engagement, case_id: int, capability: str = perms.VIEW_WORKFLOW
) -> ExceptionCase:
    case = (
        ExceptionCase.objects.filter(
            engagement=engagement, pk=case_id, site__in=_sites(user, engagement, capability)
        )
        .select_related("site", "engagement", "source_row__form", "t39_row__form")
        .first()
    )
    if case is None:
        raise NotFound(_("No exception case %(id)s is open to you.") % {"id": case_id}, field="case")
    return case


def evidence_get(*, user: Any, engagement: Engagement, evidence_id: int) -> Evidence:
    """An evidence file of a step or a checklist item at the user's sites."""
    sites = _sites(user, engagement, perms.VIEW_WORKFLOW)
    evidence = (
        Evidence.objects.filter(engagement=engagement, pk=evidence_id)
        .filter(
            Q(step__site__in=sites)
            | Q(step__isnull=False, step__site__isnull=True)
            | Q(step__isnull=True, case_items__case__site__in=sites)
        )
        .first()
    )
    if evidence is None:
        raise NotFound(_("No file %(id)s is open to you.") % {"id": evidence_id}, field="evidence")
    return evidence


def site_choices(*, user: Any, engagement: Engagement, capability: str) -> QuerySet[Site]:
    return _sites(user, engagement, capability).order_by("path")


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


def table24_counts(*, user: Any, engagement: Engagement) -> Table24Counts:
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


def observer_summary(*, user: Any, engagement: Engagement, now: dt.datetime) -> ObserverSummary:
    """The read-only summary an observer gets (view_summary), at the user's scope."""
    sites = {s.pk: s.level for s in _sites(user, engagement, perms.VIEW_SUMMARY).only("pk", "level")}
    views = state.compute(engagement=engagement, now=now)
    mine = _in_scope(views, set(sites))
    current = [v for v in mine if v.step.phase == engagement.phase and v.site_id is not None]
    counts: Counter[str] = Counter()
    for v in mine:
        counts["feedback"] += v.feedback_count
        counts["escalations"] += v.escalated_at is not None
    open_counts = Counter(
        ExceptionCase.objects.filter(
            engagement=engagement, state=CaseState.OPEN, site_id__in=list(sites)
        ).values_list("path_id", flat=True)
    )
    return ObserverSummary(
        phase=engagement.phase,
        by_phase=_completion(mine, Phase.choices, lambda v: v.step.phase),
        by_level=_completion(current, SiteLevel.choices, lambda v: sites[v.site_id]),
        overdue=sum(v.state == state.OVERDUE and not v.step.derived for v in mine),
        open_cases=[(p.id, p.zh, open_counts[p.id]) for p in paths.PATHS if open_counts.get(p.id)],
        feedback=counts["feedback"],
        escalations=counts["escalations"],
        sites=len(sites),
    )


def t39_choices(*, case: ExceptionCase) -> list[tuple[int, str]]:
    """The current 表39 rows at the case's site, of the case's type, to link as its entry."""
    from handover.registers.models import Row

    rows = Row.objects.filter(
        form__engagement_id=case.engagement_id,
        form__site_id=case.site_id,
        form__register_no=catalogue.FAULT_RISK_LOG,
        form__is_current=True,
        is_current=True,
        data__exc_type__startswith=case.path_id,
    ).select_related("form")
    return [(r.pk, f"{r.form.form_no} #{r.seq} · {r.form.get_state_display()}") for r in rows]


def unreported(*, user: Any, engagement: Engagement) -> tuple[list[Feedback], list[Escalation]]:
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


def duty_roster(*, user: Any, engagement: Engagement, start: dt.date, end: dt.date) -> QuerySet[DutyShift]:
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


def deadline_table(*, user: Any, engagement: Engagement) -> list[DeadlineRow]:
    """Every step's default deadline and the one in force for the engagement (技术组's view)."""
    _scope(user, engagement, perms.MANAGE_WORKFLOW)
    overrides = state.overrides_of(engagement)
    d = engagement.disposal_date
    return [
        DeadlineRow(s, deadlines.due_at(s.id, d), deadlines.due_at(s.id, d, overrides)) for s in steps.STEPS
    ]


@dataclass(frozen=True)
class RegisterRows:
    """A current form of one of a step's output registers at the step's site, with its current rows and the
    exception paths a problem in one of them starts."""

    form: Any
    rows: list[RowLine]
    starts: list[paths.Path]


@dataclass(frozen=True)
class RowLine:
    """One row as the step page shows it (UX review M8): its system by name, not id, and whether a 第二十八条 path
    is already under way for it (an open case from it, or a 表39 entry it links), so no second one is offered."""

    row: Any
    system: str
    case: ExceptionCase | None
    linked_t39: bool


ROWS_SHOWN = 50


def step_register_rows(*, user: Any, engagement: Engagement, instance: StepInstance) -> list[RegisterRows]:
    """The forms and rows behind a step at its site (the instance was read through ``step_get``)."""
    from handover.registers.models import Form

    spec = steps.BY_ID[instance.step_id]
    if instance.site_id is None or not spec.outputs:
        return []
    forms = list(
        Form.objects.filter(
            engagement=engagement, site_id=instance.site_id, register_no__in=spec.outputs, is_current=True
        )
        .prefetch_related("rows")
        .order_by("register_no", "form_no")
    )
    from handover.registers.models import InformationSystem

    current = {form.pk: [r for r in form.rows.all() if r.is_current][:ROWS_SHOWN] for form in forms}
    every = [row for rows in current.values() for row in rows]
    system_ids = {_as_int(row.data.get("system_id")) for row in every} - {None}
    names = dict(
        InformationSystem.objects.filter(engagement=engagement, pk__in=system_ids).values_list("pk", "name")
    )
    cases = {
        case.source_row_id: case
        for case in ExceptionCase.objects.filter(
            engagement=engagement, source_row__in=[row.pk for row in every]
        ).order_by("opened_at")
    }
    result = []
    for form in forms:
        lines = [
            RowLine(
                row,
                names.get(_as_int(row.data.get("system_id")) or 0, ""),
                cases.get(row.pk),
                bool(row.data.get("exception_refs")),
            )
            for row in current[form.pk]
        ]
        starts = [paths.BY_ID[p] for p in spec.exceptions if form.register_no in paths.BY_ID[p].sources]
        result.append(RegisterRows(form, lines, starts))
    return result


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class StepList:
    """Step instances with their derived state at the user's sites, and the codes of those sites."""

    views: list[state.StepView]
    site_codes: dict[int, str]


def step_list(
    *,
    user: Any,
    engagement: Engagement,
    now: dt.datetime,
    site: Site | None = None,
    phase: str = "",
    state_: str = "",
) -> StepList:
    """Every step instance the user may see, in 附件二 order per site: those of ``site`` and its subtree
    when it is given (engagement-level steps only without it), of ``phase`` and in ``state_`` if given.
    A fixed number of queries, whatever the number of sites."""
    sites = _sites(user, engagement, perms.VIEW_WORKFLOW)
    if site is not None:
        sites = sites.filter(path__startswith=site.path)
    codes = dict(sites.values_list("pk", "code"))
    views = [
        v
        for v in state.compute(engagement=engagement, now=now).values()
        if (v.site_id in codes or (v.site_id is None and site is None))
        and (not phase or v.step.phase == phase)
        and (not state_ or v.state == state_)
    ]
    _as_told(user, engagement, views, set(codes))
    views.sort(key=lambda v: (v.site_id is not None, codes.get(v.site_id or 0, ""), steps.ORDER[v.step.id]))
    return StepList(views=views, site_codes=codes)


def case_list(
    *,
    user: Any,
    engagement: Engagement,
    case_state: str = "",
    path_id: str = "",
    site: Site | None = None,
) -> QuerySet[ExceptionCase]:
    """Exception cases at the user's sites (``site``: that site and its subtree), newest first."""
    sites = _sites(user, engagement, perms.VIEW_WORKFLOW)
    if site is not None:
        sites = sites.filter(path__startswith=site.path)
    cases = ExceptionCase.objects.filter(engagement=engagement, site__in=sites)
    if case_state:
        cases = cases.filter(state=case_state)
    if path_id:
        cases = cases.filter(path_id=path_id)
    return cases.select_related("site").order_by("-opened_at", "-pk")


@dataclass(frozen=True)
class ChecklistEntry:
    """A prescribed item of a case's path, with what was recorded when it was done (None: not yet)."""

    item: paths.Item
    done: Any


def case_checklist(*, case: ExceptionCase) -> list[ChecklistEntry]:
    """The items of the case's path that apply to its sub-type, in the path's order (the case was read
    through ``case_get``)."""
    done = {i.key: i for i in case.items.select_related("evidence")}
    return [
        ChecklistEntry(item, done.get(item.key))
        for item in paths.BY_ID[case.path_id].items
        if item.applies(case.sub_type)
    ]


def site_by_code(*, user: Any, engagement: Engagement, code: str) -> Site:
    """A site of the user's workflow scope by its code (the API's ``?site=CODE``)."""
    site = _sites(user, engagement, perms.VIEW_WORKFLOW).filter(code=code).first()
    if site is None:
        raise NotFound(
            _("No site %(code)s is open to you in this engagement.") % {"code": code}, field="site"
        )
    return site

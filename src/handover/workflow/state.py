"""A step's state, derived from the registers, never ticked by hand (registers.md §5: a step is complete when
its output registers are signed).

- A step with output registers is done when, for each of them, the site has at least one current form and
  every current form is signed (or archived); it was done when the last of those signatures was given.
  An engagement-level step reads the forms of the head office (总部), where 技术组 files them.
- A step without output registers (H-00, M-01, M-02, P-01 …) has nothing to sign; it is done when evidence
  is attached and a responsible party confirms it (services.step_confirm).
- Ordering (steps.py ``after``): a step whose predecessor is not done is blocked, even if its own registers
  are signed (done out of order), and it becomes done once the predecessor is. Engagement-level
  predecessors count for every site (T-10 waits for the security assessment T-09); an engagement-level step
  waiting for a per-site one (N-03 after T-10) waits for it at every site that has it.
- A register rule that blocks a step (gates.py) blocks it too.
- An output register listed as ``optional`` (a 表36 go-live, a 表37 database login) need not exist; when it
  does, its forms must be signed. A step whose registers are all optional and absent is in order from the
  moment it was created.
- 注意事项, per site (第二十七条; derived from the site's other 交接期 steps, never confirmed):
  N-01 (第1项, in order and on time) is done when all of them are, done late when one was (a deviation),
  overdue while one is, and its reasons name them; its due time is the latest of theirs.
  N-02 (第2项, same-day feedback) is due at the end of the day of the first late step still without
  feedback and overdue after it; in progress while an escalation waits for 技术组's report to the working
  group; done when every late step has its feedback and every escalation is reported. A site with nothing
  late shows it **done**, with the reason "nothing is late" (clearer on the heat map than a seventh state).
  N-05 (第5项, back up first) is blocked while a register gate blocks any step of the site (its reasons
  list them), done once the site's backups (the outputs of T-01 and T-04) are signed, and overdue when
  those are not signed by the later of the two deadlines.
  Derived steps owe no feedback of their own: the late step itself does.
- 稳定期 steps (S-01…S-13, per site) are continuous duties: in order while their registers are signed, and
  overdue, whatever their deadline, while the routine shows something lapsed (routine.py, read for
  the whole engagement): 表40 past its date → S-01, 表27 past next_due_on → S-02, 表28 review older than
  PERMISSION_REVIEW_DAYS → S-03, 表35 contract ending → S-11, 表41 of the last trading day missing or
  unsigned → S-09. Same-day feedback and escalation (第二十七条第2项) are the 交接期's; in 稳定期 the morning
  reminders tell the sites. S-14, the 整体风险评估报告, has no register: it is confirmed with evidence.

``compute`` reads the whole engagement in a fixed number of queries, whatever the number of sites: the
deadline overrides, the register status, the head office's sites, feedback, escalations, the step
instances, the gates' own, and two more once 稳定期 steps exist (the routine's rows, the day's 表41).
The overview of 300 sites derives some 8,000 instances: the loop over them does only what differs per
instance (a deadline is computed once per step, a site's forms are looked up in its own
table of registers).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.db.models import Count, Max, Min, Q
from django.utils.translation import gettext as _

from handover.org.models import Engagement, Site, SiteLevel
from handover.registers import completeness
from handover.registers.models import FROZEN_STATES, Form
from handover.workflow import deadlines, gates, routine, stamp, steps
from handover.workflow.models import DeadlineOverride, Escalation, Feedback, StepInstance

DONE, DONE_LATE, OVERDUE, BLOCKED, IN_PROGRESS, PENDING = (
    "done",
    "done_late",
    "overdue",
    "blocked",
    "in_progress",
    "pending",
)
STATES = (DONE, DONE_LATE, OVERDUE, BLOCKED, IN_PROGRESS, PENDING)
FINISHED = frozenset({DONE, DONE_LATE})
SIGNED = FROZEN_STATES

BACKUP_STEPS = ("T-01", "T-04")  # N-05: the site's system backup (表8) and current-data backup (表14)

Key = tuple[int | None, str]  # (site id, or None for an engagement-level step; step id)
T = TypeVar("T")


@dataclass(slots=True)
class StepView:
    """One step instance with its derived state."""

    instance_id: int
    step: steps.Step
    site_id: int | None
    due: dt.datetime | None
    state: str = PENDING
    done_at: dt.datetime | None = None
    waiting_for: tuple[str, ...] = ()
    gate_reasons: tuple[str, ...] = ()
    started: bool = False
    feedback_at: dt.datetime | None = None
    feedback_count: int = 0
    escalated_at: dt.datetime | None = None
    needs_feedback: bool = False
    needs_escalation: bool = False
    missing_registers: tuple[int, ...] = field(default_factory=tuple)
    late_since: dt.datetime | None = (
        None  # when an overdue step became late (its deadline, or a later reopening)
    )
    reasons: tuple[str, ...] = ()  # why a derived or 稳定期 step is in its state (N-01, N-02, N-05, S-…)
    escalation_reported: bool = False
    lapsed: bool = False  # a 稳定期 routine is behind (routine.py)
    created_at: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def overrides_of(engagement: Engagement) -> dict[str, steps.Deadline]:
    """The engagement's deadlines that 技术组 changed, by step."""
    return {
        o.step_id: steps.Deadline(o.day, o.time)
        for o in DeadlineOverride.objects.filter(engagement=engagement).only("step_id", "day", "time")
    }


# A current form exists, all are signed, the last signature, and when the newest unsigned one was opened (a step
# that was done and is not any more became late then, not at its deadline: UX review H4).
Entry = tuple[bool, bool, dt.datetime | None, dt.datetime | None]
Status = dict[int, dict[int, Entry]]  # site → register → its entry
NO_FORMS: dict[int, Entry] = {}


def _register_status(engagement: Engagement, site_ids: set[int] | None = None) -> Status:
    """Site → register → (a current form exists, every current form is signed, when the last was signed), for
    ``site_ids`` (None: every site)."""
    outputs = {number for step in steps.STEPS for number in step.outputs}
    forms = Form.objects.filter(engagement=engagement, is_current=True, register_no__in=outputs)
    if site_ids is not None:
        forms = forms.filter(site_id__in=site_ids)
    rows = (
        forms.values("site_id", "register_no")
        .annotate(
            n=Count("id", distinct=True),
            signed=Count("id", filter=Q(state__in=SIGNED), distinct=True),
            last=Max("signatures__signed_at", filter=Q(state__in=SIGNED)),
            reopened=Max("created_at", filter=~Q(state__in=SIGNED)),
        )
        .values_list("site_id", "register_no", "n", "signed", "last", "reopened")
        .order_by()
    )
    status: Status = defaultdict(dict)
    for site_id, number, n, signed, last, reopened in rows:
        status[site_id][number] = (n > 0, n == signed, last, reopened)
    return dict(status)


def _own_done(
    outputs: tuple[int, ...],
    optional: tuple[int, ...],
    at_sites: list[dict[int, Entry]],
    since: dt.datetime | None = None,
) -> tuple[dt.datetime | None, bool, tuple[int, ...]]:
    """When the registers ``outputs`` of a step were all signed at its sites (``at_sites``: each site's
    status; None if not), whether any was started, and the registers still missing a signed form. With
    only ``optional`` registers, none filed, it was in order ``since`` (when the step was created)."""
    last: dt.datetime | None = None
    started = False
    missing: list[int] = []
    filed = False
    for number in outputs:
        found = False
        signed = True
        for forms in at_sites:
            entry = forms.get(number)
            if entry is not None:
                found = True
                signed = signed and entry[1]
                if entry[2] is not None and (last is None or entry[2] > last):
                    last = entry[2]
        started = started or found
        if not found and number in optional:
            continue
        filed = True
        if not found or not signed:
            missing.append(number)
    if not filed:
        return since, started, ()
    return (None if missing else last), started, tuple(missing)


def _late_since(
    due: dt.datetime | None, missing: tuple[int, ...], at_sites: list[dict[int, Entry]]
) -> dt.datetime | None:
    """When a step not done became late: its deadline, or later when an unsigned form of a missing register
    was opened after it (the step had been done, and a new draft undid it: UX review H4)."""
    if due is None or not missing:
        return due
    opened = [
        entry[3] for forms in at_sites for n in missing if (entry := forms.get(n)) is not None and entry[3]
    ]
    return max([due, *opened])


# The kept state of an engagement, in this process (stamp.py): each site's part under its site's token, the
# engagement-level steps, and the views of all of them assembled. Readers share the views: they never change
# one (selectors copy before they rewrite a reason).
@dataclass(slots=True)
class _Inputs:
    """What the step instances of one site (or the engagement-level ones) read: kept with the part, so that a
    part derived again (an engagement-level predecessor changed) reads nothing."""

    forms: Status  # site → register → entry (the site's own; head office's for the engagement-level steps)
    instances: list[tuple[int, str, dt.datetime | None, dt.datetime | None]] = field(default_factory=list)
    feedback: dict[int, tuple[dt.datetime, int]] = field(default_factory=dict)
    escalated: dict[int, tuple[dt.datetime, bool]] = field(default_factory=dict)
    blocks: dict[str, list[str]] = field(default_factory=dict)  # step → the register gates' reasons
    lapses: dict[str, list[str]] = field(
        default_factory=dict
    )  # 稳定期 step → the routine's lapses, for ``day``
    day: dt.date | None = None


@dataclass(slots=True)
class _Part:
    """A site's views (or the engagement-level steps'), derived from its inputs and, for a site, from whether
    each engagement-level predecessor it consulted was done (``consulted``)."""

    inputs: _Inputs
    views: dict[Key, StepView]
    consulted: dict[str, bool]
    undone: frozenset[str]  # the steps of this part not done once ordered (what a later step waits for)
    after: dt.datetime | None
    until: dt.datetime | None


@dataclass(slots=True)
class _Kept:
    key: tuple[object, ...]  # the engagement's token, D, phase, the gates' rules
    tokens: dict[int, str]  # every scope's token (stamp.tokens)
    facts: dict[int, completeness.Facts]  # per site, what its covered registers' rows say (coverage reads)
    merged: completeness.Facts  # all of them together, as the coverage rules read them
    sites: dict[int, _Part]
    engagement_steps: _Part
    views: dict[Key, StepView]
    after: dt.datetime | None
    until: dt.datetime | None


_KEPT: dict[int, _Kept] = {}
# What the pages derive from a kept state (the overview's rows, the heat map's cells …), by the kept views'
# identity: dropped with them.
_DERIVED: dict[int, tuple[dict[Key, StepView], dict[object, Any]]] = {}
DERIVED_HELD = 2000
# How many sites' parts the last ``compute`` derived (tests count them: a write at one site derives one).
last_derived: list[int] = []


def forget() -> None:
    """Drop the kept states: the next ``compute`` reads and derives afresh (tests that count its queries)."""
    _KEPT.clear()
    _DERIVED.clear()


def derived(views: dict[Key, StepView], key: object, build: Callable[[], T]) -> T:
    """What ``build`` makes from ``views`` (and from ``key``, which names everything else it depends on), made
    once per kept state: the pages' own work on the state is kept with it. ``views`` not kept: built."""
    for pk, kept in _KEPT.items():
        if kept.views is views:
            held = _DERIVED.get(pk)
            if held is None or held[0] is not views:
                held = _DERIVED[pk] = (views, {})
            if key not in held[1]:
                if len(held[1]) >= DERIVED_HELD:  # many users' scopes between two writes: start again
                    held[1].clear()
                held[1][key] = build()
            return cast(T, held[1][key])
    return build()


def _holds(after: dt.datetime | None, until: dt.datetime | None, now: dt.datetime) -> bool:
    return (after is None or now > after) and (until is None or now <= until)


def compute(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``. Kept from an earlier call while no
    watched table changed since (stamp.py) and ``now`` lies in the same span between two deadlines; after a
    write at some sites, only their parts are read and derived again, with the engagement-level steps; after
    a write that concerns every site, all. The views returned are shared: do not change them."""
    tokens = stamp.tokens(engagement.pk)  # read first: whatever is read after it is at least as new
    if tokens is None:
        return compute_afresh(engagement=engagement, now=now)
    key = (tokens[stamp.ENGAGEMENT], engagement.disposal_date, str(engagement.phase), gates.rules())
    kept = _KEPT.get(engagement.pk)
    if kept is not None and kept.key == key and kept.tokens == tokens and _holds(kept.after, kept.until, now):
        last_derived[:] = []
        return kept.views
    if kept is None or kept.key != key:
        kept = _full(engagement, now, key, tokens)
    else:
        kept = _partial(engagement, now, kept, tokens)
    _KEPT[engagement.pk] = kept
    return kept.views


def compute_afresh(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``, read and derived now."""
    return _full(engagement, now, (), {}).views


def _full(engagement: Engagement, now: dt.datetime, key: tuple[object, ...], tokens: dict[int, str]) -> _Kept:
    """Every site read in one batch of queries (whatever the number of sites), then derived part by part."""
    due = _Due(engagement)
    facts = completeness.site_facts(engagement=engagement)
    merged = completeness.merged(engagement=engagement, parts=facts.values())
    inputs = _read_sites(engagement, None, now, merged)
    sites = {site_id: _derive_site(site_id, found, due, {}, now) for site_id, found in inputs.items()}
    top = _read_engagement_steps(engagement)
    return _assemble(now, key, tokens, (facts, merged), sites, set(sites), due, top)


def _partial(engagement: Engagement, now: dt.datetime, kept: _Kept, tokens: dict[int, str]) -> _Kept:
    """The kept state with the sites whose token moved (or whose span ``now`` left) read and derived again,
    and with them every site whose coverage reads a fact of the registers that the write changed
    (``_concerned``)."""
    scopes = (set(tokens) | set(kept.tokens)) - {stamp.ENGAGEMENT, stamp.STEPS_ONLY}
    written = {s for s in scopes if tokens.get(s) != kept.tokens.get(s)}
    facts, merged, concerned = _concerned(engagement, kept, written)
    stale = (
        written | concerned | {s for s, part in kept.sites.items() if not _holds(part.after, part.until, now)}
    )
    due = _Due(engagement)
    inputs = _read_sites(engagement, stale, now, merged) if stale else {}
    sites = {s: part for s, part in kept.sites.items() if s not in stale}
    guess = {v.step.id: v.done_at is not None for v in kept.engagement_steps.views.values()}
    for site_id, found in inputs.items():
        sites[site_id] = _derive_site(site_id, found, due, guess, now)
    # The engagement-level steps read head office's forms and their own instances: kept while neither moved.
    top = kept.engagement_steps.inputs
    if tokens.get(stamp.STEPS_ONLY) != kept.tokens.get(stamp.STEPS_ONLY) or stale & set(top.forms):
        top = _read_engagement_steps(engagement)
    return _assemble(now, kept.key, tokens, (facts, merged), sites, set(inputs), due, top)


def _concerned(
    engagement: Engagement, kept: _Kept, written: set[int]
) -> tuple[dict[int, completeness.Facts], completeness.Facts, set[int]]:
    """The covered registers' facts per site with those of the ``written`` sites read again, merged, and the
    other sites whose coverage reads a fact that changed (a 营业部's 表7 row now listing head office's system
    concerns head office, whose system is then in 表7; a 表8 row there that adds nothing head office's system
    lacked concerns nobody else). One query, and up to three when a fact changed."""
    if not written:
        return kept.facts, kept.merged, set()
    fresh = completeness.site_facts(engagement=engagement, site_ids=written)
    facts = {s: found for s, found in kept.facts.items() if s not in written} | fresh
    merged = completeness.merged(engagement=engagement, parts=facts.values())
    among = [*(kept.facts[s] for s in written if s in kept.facts), *fresh.values()]
    concerned = completeness.concerned(engagement=engagement, before=kept.merged, after=merged, among=among)
    return facts, merged, concerned - written


def _assemble(
    now: dt.datetime,
    key: tuple[object, ...],
    tokens: dict[int, str],
    facts: tuple[dict[int, completeness.Facts], completeness.Facts],
    sites: dict[int, _Part],
    derived_now: set[int],
    due: _Due,
    top_inputs: _Inputs,
) -> _Kept:
    """The engagement-level steps derived from head office's forms and the sites' parts, and every site part
    whose engagement-level predecessors it consulted were not as now derived again (from its kept inputs),
    until they agree: the steps are ordered predecessors first (steps.py), so the agreement is the state one
    pass in that order gives."""
    while True:
        top = _derive_engagement_steps(top_inputs, due, sites, now)
        done = {v.step.id: v.done_at is not None for v in top.views.values()}
        again = [
            s
            for s, part in sites.items()
            if any(done.get(step_id, True) != was for step_id, was in part.consulted.items())
        ]
        if not again:
            break
        for site_id in again:
            sites[site_id] = _derive_site(site_id, sites[site_id].inputs, due, done, now)
            derived_now.add(site_id)
    last_derived[:] = sorted(derived_now)
    views: dict[Key, StepView] = {}
    for part in (*sites.values(), top):
        views.update(part.views)
    views = dict(sorted(views.items(), key=lambda item: item[1].instance_id))
    afters = [p.after for p in (*sites.values(), top) if p.after is not None]
    untils = [p.until for p in (*sites.values(), top) if p.until is not None]
    return _Kept(key, tokens, *facts, sites, top, views, max(afters, default=None), min(untils, default=None))


class _Due:
    """The deadlines of the engagement's steps, computed once per step (D and the overrides, one query)."""

    def __init__(self, engagement: Engagement) -> None:
        self.disposal = engagement.disposal_date
        self.overrides = overrides_of(engagement)
        self.found: dict[str, dt.datetime | None] = {}

    def __call__(self, step_id: str) -> dt.datetime | None:
        if step_id not in self.found:
            self.found[step_id] = deadlines.due_at(step_id, self.disposal, self.overrides)
        return self.found[step_id]


def _steady(views: dict[Key, StepView], now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The span (after, until] around ``now`` in which ``now`` is compared with no time of the state
    differently, so the state of any instant in it is the state at ``now``: every comparison the derivation
    makes is ``now > t`` for a deadline t, the same-day feedback limit of a deadline or of the time a step
    became late (deadlines.py), and the day of ``now`` (the routine of 稳定期)."""
    local = now.astimezone(deadlines.BEIJING)
    start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=deadlines.BEIJING)
    tick = dt.timedelta(microseconds=1)
    times = {start - tick, start + dt.timedelta(days=1) - tick}
    for view in views.values():
        for t in (view.due, view.late_since):
            if t is not None:
                times.add(t)
                times.add(deadlines.feedback_due_by(t))
    after = max((t for t in times if t < now), default=None)
    until = min((t for t in times if t >= now), default=None)
    return after, until


# Reading ------------------------------------------------------------------------------------------------


def _read_sites(
    engagement: Engagement, site_ids: set[int] | None, now: dt.datetime, facts: completeness.Facts
) -> dict[int, _Inputs]:
    """The inputs of the per-site step instances of ``site_ids`` (None: every site), in a fixed number of
    queries, by site; the coverage rules read ``facts`` (every site's covered registers)."""
    instances = StepInstance.objects.filter(engagement=engagement, site__isnull=False)
    if site_ids is not None:
        instances = instances.filter(site_id__in=site_ids)
    found: dict[int, _Inputs] = {}
    site_of: dict[int, int] = {}
    for pk, site_id, step_id, confirmed_at, created_at in instances.values_list(
        "pk", "site_id", "step_id", "confirmed_at", "created_at"
    ):
        found.setdefault(site_id, _Inputs({site_id: NO_FORMS})).instances.append(
            (pk, step_id, confirmed_at, created_at)
        )
        site_of[pk] = site_id
    status = _register_status(engagement, site_ids)
    for site_id, inputs in found.items():
        inputs.forms = {site_id: status.get(site_id, NO_FORMS)}
    steps_of = Q(step__engagement=engagement, step__site__isnull=False)
    if site_ids is not None:
        steps_of &= Q(step__site_id__in=site_ids)
    _read_reports(steps_of, {pk: found[site_id] for pk, site_id in site_of.items()})
    pairs = [(site_of[pk], step_id) for f in found.values() for pk, step_id, _c, _t in f.instances]
    blocks = gates.blocking_reasons(engagement=engagement, pairs=pairs, facts=facts)
    for (at_site, step_id), reasons in blocks.items():
        if at_site in found:
            found[at_site].blocks[step_id] = reasons
    _read_routine(engagement, found, site_ids, now)
    return found


def _read_reports(steps_of: Q, owner: dict[int, _Inputs]) -> None:
    """The same-day feedback and the escalations of the instances ``steps_of`` selects, into the inputs of
    their part (``owner``, by instance)."""
    for pk, first, n in (
        Feedback.objects.filter(steps_of)
        .values("step_id")
        .annotate(first=Min("reported_at"), n=Count("id"))
        .values_list("step_id", "first", "n")
    ):
        owner[pk].feedback[pk] = (first, n)
    for pk, raised_at, report_id in Escalation.objects.filter(steps_of).values_list(
        "step_id", "raised_at", "wg_report_id"
    ):
        owner[pk].escalated[pk] = (raised_at, report_id is not None)


def _read_routine(
    engagement: Engagement, found: dict[int, _Inputs], site_ids: set[int] | None, now: dt.datetime
) -> None:
    """The 稳定期 steps whose routine lapsed (routine.py's reminders, one query, and 表41 of the last trading
    day in one more), into their site's part, for the day of ``now``."""
    today = now.astimezone(deadlines.BEIJING).date()
    for inputs in found.values():
        inputs.day = today
    stable = {
        site_id
        for site_id, inputs in found.items()
        for _pk, step_id, _c, _t in inputs.instances
        if step_id in steps.BY_ID and steps.BY_ID[step_id].phase == steps.STABILISATION
    }
    if not stable:
        return
    sites = None if site_ids is None else Site.objects.filter(pk__in=site_ids)
    for item in routine.due_items(engagement=engagement, sites=sites, today=today):
        step_id = routine.ROUTINE_STEPS.get(item.register_no)
        if step_id and item.lapsed and item.site_id in found:
            found[item.site_id].lapses.setdefault(step_id, []).append(item.reason)
    day = routine.last_trading_day(today)
    # A site owes 表41 for the trading days wholly in its 稳定期, from the day after its S-09 was created.
    owing = {
        site_id
        for site_id in stable
        for _pk, step_id, _c, created_at in found[site_id].instances
        if step_id == routine.DAILY_REPORT_STEP
        and created_at is not None
        and created_at.astimezone(deadlines.BEIJING).date() < day
    }
    if owing:
        for site_id in routine.daily_report_missing(engagement=engagement, site_ids=owing, day=day):
            found[site_id].lapses.setdefault(routine.DAILY_REPORT_STEP, []).append(
                _("表41 of %(day)s is missing or not signed") % {"day": day}
            )


def _read_engagement_steps(engagement: Engagement) -> _Inputs:
    """The inputs of the engagement-level step instances: head office's forms (where 技术组 files them), their
    feedback, escalations and gates."""
    hq_ids = list(Site.objects.filter(engagement=engagement, level=SiteLevel.HQ).values_list("pk", flat=True))
    status = _register_status(engagement, set(hq_ids)) if hq_ids else {}
    inputs = _Inputs({site_id: status.get(site_id, NO_FORMS) for site_id in hq_ids})
    inputs.instances = list(
        StepInstance.objects.filter(engagement=engagement, site__isnull=True).values_list(
            "pk", "step_id", "confirmed_at", "created_at"
        )
    )
    _read_reports(
        Q(step__engagement=engagement, step__site__isnull=True),
        {pk: inputs for pk, *_rest in inputs.instances},
    )
    pairs = [(None, step_id) for _pk, step_id, _c, _t in inputs.instances]
    for (_site, step_id), reasons in gates.blocking_reasons(engagement=engagement, pairs=pairs).items():
        inputs.blocks[step_id] = reasons
    return inputs


# Deriving -----------------------------------------------------------------------------------------------


def _views(
    site_id: int | None, inputs: _Inputs, at_sites: list[dict[int, Entry]], due: _Due
) -> dict[Key, StepView]:
    """The views of the instances of ``inputs``, with what their own registers, confirmation and reports say."""
    views: dict[Key, StepView] = {}
    for pk, step_id, confirmed_at, created_at in inputs.instances:
        step = steps.BY_ID.get(step_id)
        if step is None:
            continue
        view = StepView(pk, step, site_id, due(step_id), created_at=created_at)
        if step.outputs:
            view.done_at, view.started, view.missing_registers = _own_done(
                step.outputs, step.optional, at_sites, created_at
            )
            view.late_since = _late_since(view.due, view.missing_registers, at_sites)
        elif not step.derived:
            view.done_at, view.started = confirmed_at, confirmed_at is not None
        if pk in inputs.feedback:
            view.feedback_at, view.feedback_count = inputs.feedback[pk]
        if pk in inputs.escalated:
            view.escalated_at, view.escalation_reported = inputs.escalated[pk]
        views[(site_id, step_id)] = view
    return views


def _order(
    views: dict[Key, StepView],
    blocks: dict[str, list[str]],
    predecessor_done: Callable[[StepView, str], bool],
) -> frozenset[str]:
    """Apply the predecessors (in steps.py order, which lists predecessors first) and the register gates;
    the steps left not done."""
    by_step = {view.step.id: view for view in views.values()}
    for step in steps.STEPS:
        view = by_step.get(step.id)
        if view is None:
            continue
        if step.after:
            view.waiting_for = tuple(before for before in step.after if not predecessor_done(view, before))
        reasons = blocks.get(step.id)
        if reasons:
            view.gate_reasons = tuple(reasons)
        if view.waiting_for or view.gate_reasons:
            view.done_at = None
    return frozenset(v.step.id for v in views.values() if v.done_at is None)


def _derive_site(
    site_id: int, inputs: _Inputs, due: _Due, top_done: dict[str, bool], now: dt.datetime
) -> _Part:
    """One site's views: an engagement-level predecessor counts as ``top_done`` says (absent: no such step,
    so done), and the part remembers what it consulted."""
    views = _views(site_id, inputs, [inputs.forms[site_id]], due)
    consulted: dict[str, bool] = {}

    def predecessor_done(view: StepView, before: str) -> bool:
        mine = views.get((site_id, before))
        if mine is not None:
            return mine.done_at is not None
        consulted[before] = top_done.get(before, True)
        return consulted[before]

    undone = _order(views, inputs.blocks, predecessor_done)
    for view in views.values():
        found = inputs.lapses.get(view.step.id)
        if found and view.step.phase == steps.STABILISATION:
            view.reasons, view.lapsed, view.done_at = tuple(found), True, None
        if not view.step.derived:
            _settle(view, now)
    _derive_notes(views, inputs.forms, now)
    return _Part(inputs, views, consulted, undone, *_steady(views, now))


def _derive_engagement_steps(inputs: _Inputs, due: _Due, sites: dict[int, _Part], now: dt.datetime) -> _Part:
    """The engagement-level views: head office's forms, and a per-site predecessor done at every site."""
    views = _views(None, inputs, list(inputs.forms.values()), due)

    def predecessor_done(view: StepView, before: str) -> bool:
        mine = views.get((None, before))
        if mine is not None:
            return mine.done_at is not None
        return not any(before in part.undone for part in sites.values())

    undone = _order(views, inputs.blocks, predecessor_done)
    for view in views.values():
        if not view.step.derived:
            _settle(view, now)
    return _Part(inputs, views, {}, undone, *_steady(views, now))


def _settle(view: StepView, now: dt.datetime) -> None:
    due = view.due
    if view.done_at is not None:
        view.state = DONE_LATE if due is not None and view.done_at > due else DONE
        return
    overdue = view.lapsed or deadlines.is_overdue(due, done_at=None, now=now)
    if overdue:
        view.state = OVERDUE
        if view.missing_registers and not view.reasons:  # UX review H4: say why, not only that
            view.reasons = (
                _("Not signed yet: %(regs)s") % {"regs": "、".join(f"表{n}" for n in view.missing_registers)},
            )
    elif view.waiting_for or view.gate_reasons:
        view.state = BLOCKED
    else:
        view.state = IN_PROGRESS if view.started else PENDING
    if view.site_id is not None and overdue and view.step.phase == steps.HANDOVER:
        view.needs_feedback = view.feedback_at is None
        view.needs_escalation = view.escalated_at is None and deadlines.needs_escalation(
            due, done_at=None, feedback_at=view.feedback_at, now=now
        )


# 注意事项 N-01, N-02, N-05 (第二十七条), from the site's other 交接期 steps --------------------------------


def _derive_notes(
    views: dict[Key, StepView],
    status: Status,
    now: dt.datetime,
) -> None:
    by_site: dict[int, list[StepView]] = defaultdict(list)
    for view in views.values():
        if view.site_id is not None:
            by_site[view.site_id].append(view)
    for site_id, mine in by_site.items():
        notes = {v.step.id: v for v in mine if v.step.derived}
        if not notes:
            continue
        watched = [v for v in mine if v.step.phase == steps.HANDOVER and not v.step.derived]
        if "N-01" in notes:
            _in_order(notes["N-01"], watched)
        if "N-02" in notes:
            _same_day_feedback(notes["N-02"], watched, now)
        if "N-05" in notes:
            _backed_up(notes["N-05"], mine, site_id, status, now)


def _ids(items: list[StepView]) -> str:
    return "、".join(v.step.id for v in items)


def _in_order(view: StepView, watched: list[StepView]) -> None:
    """N-01 (第二十七条第1项): every step by its time; a late one is a deviation, flagged."""
    view.due = max((v.due for v in watched if v.due is not None), default=None)
    view.started = any(v.started or v.finished for v in watched)
    late = [v for v in watched if v.state == OVERDUE]
    done_late = [v for v in watched if v.state == DONE_LATE]
    if late:
        view.state, view.reasons = OVERDUE, (_("Overdue: %(steps)s") % {"steps": _ids(late)},)
    elif watched and all(v.finished for v in watched):
        view.done_at = max((v.done_at for v in watched if v.done_at is not None), default=None)
        view.state = DONE_LATE if done_late else DONE
    else:
        view.state = IN_PROGRESS if view.started else PENDING
    if done_late and not late:
        view.reasons = (_("Done late: %(steps)s") % {"steps": _ids(done_late)},)


def _same_day_feedback(view: StepView, watched: list[StepView], now: dt.datetime) -> None:
    """N-02 (第二十七条第2项): 现场技术岗位 reports a late step the same day, 技术组 reports on to 工."""
    late = [v for v in watched if v.state == OVERDUE]
    silent = [v for v in late if v.feedback_at is None]
    unreported = [v for v in watched if v.escalated_at is not None and not v.escalation_reported]
    view.started = bool(late or unreported)
    if silent:
        # The day the lateness arose, which for a step undone after its deadline is the day it was undone.
        view.due = min(deadlines.feedback_due_by(v.late_since or v.due) for v in silent if v.due is not None)
        view.state = OVERDUE if now > view.due else IN_PROGRESS
        view.reasons = (_("No same-day feedback yet: %(steps)s") % {"steps": _ids(silent)},)
    elif unreported:
        view.state = IN_PROGRESS
        view.reasons = (
            _("Escalations not yet reported to the working group: %(steps)s") % {"steps": _ids(unreported)},
        )
    elif late or any(v.escalated_at is not None for v in watched):
        view.state = DONE
        view.done_at = max((v.feedback_at for v in late if v.feedback_at is not None), default=None)
        view.reasons = (_("Every late step is reported."),)
    else:
        view.state, view.reasons = DONE, (_("Nothing is late at this site: no feedback is owed."),)


def _backed_up(
    view: StepView,
    mine: list[StepView],
    site_id: int,
    status: Status,
    now: dt.datetime,
) -> None:
    """N-05 (第二十七条第5项, 第二十二条): back up before changing anything; the register gates enforce it."""
    blocks = [f"{v.step.id}: {reason}" for v in mine if v is not view for reason in v.gate_reasons]
    backups = [v for v in mine if v.step.id in BACKUP_STEPS]
    numbers = tuple(n for v in backups for n in v.step.outputs)
    done_at, view.started, view.missing_registers = _own_done(numbers, (), [status.get(site_id, NO_FORMS)])
    view.due = max((v.due for v in backups if v.due is not None), default=None)
    if blocks:
        view.state, view.reasons = BLOCKED, tuple(blocks)
    elif numbers and done_at is not None:
        view.done_at = done_at
        view.state = DONE_LATE if view.due is not None and done_at > view.due else DONE
    elif deadlines.is_overdue(view.due, done_at=None, now=now):
        view.state = OVERDUE
        view.reasons = (
            _("Backups not signed: %(regs)s") % {"regs": "、".join(f"表{n}" for n in view.missing_registers)},
        )
    else:
        view.state = IN_PROGRESS if view.started else PENDING

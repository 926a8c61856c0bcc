"""Deriving a step's state from what was read (state/read.py): the views of one site's step instances or of the
engagement-level ones, ordered by their predecessors and the register gates, settled at ``now``, and the
注意事项 N-01, N-02 and N-05 (第二十七条) from the site's other steps. The rules are in the package's docstring."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from handover.org.models import Engagement
from handover.registers.models import FROZEN_STATES
from handover.workflow import deadlines, steps
from handover.workflow.models import DeadlineOverride

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

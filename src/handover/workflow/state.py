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


def _register_status(engagement: Engagement) -> Status:
    """Site → register → (a current form exists, every current form is signed, when the last was signed)."""
    outputs = {number for step in steps.STEPS for number in step.outputs}
    rows = (
        Form.objects.filter(engagement=engagement, is_current=True, register_no__in=outputs)
        .values("site_id", "register_no")
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


# The last state computed per engagement, in this process: (stamp, D, phase, the gates' rules), the span of
# ``now`` it holds for, and the views (stamp.py). Readers share the views: they never change one (selectors
# copy before they rewrite a reason).
_KEPT: dict[int, tuple[tuple[object, ...], dt.datetime | None, dt.datetime | None, dict[Key, StepView]]] = {}
# What the pages derive from a kept state (the overview's rows, the heat map's cells …), by the kept views'
# identity: dropped with them.
_DERIVED: dict[int, tuple[dict[Key, StepView], dict[object, Any]]] = {}
DERIVED_HELD = 2000


def forget() -> None:
    """Drop the kept states: the next ``compute`` reads and derives afresh (tests that count its queries)."""
    _KEPT.clear()
    _DERIVED.clear()


def derived(views: dict[Key, StepView], key: object, build: Callable[[], T]) -> T:
    """What ``build`` makes from ``views`` (and from ``key``, which names everything else it depends on), made
    once per kept state: the pages' own work on the state is kept with it. ``views`` not kept: built."""
    for pk, (_key, _after, _until, kept) in _KEPT.items():
        if kept is views:
            held = _DERIVED.get(pk)
            if held is None or held[0] is not views:
                held = _DERIVED[pk] = (views, {})
            if key not in held[1]:
                if len(held[1]) >= DERIVED_HELD:  # many users' scopes between two writes: start again
                    held[1].clear()
                held[1][key] = build()
            return cast(T, held[1][key])
    return build()


def compute(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``: the state kept from an earlier call
    while no watched table changed since (stamp.py) and ``now`` lies in the same span between two deadlines,
    or computed afresh and kept. The views returned are shared: do not change them."""
    token = stamp.token()  # read first: whatever is read after it is at least as new
    if token is None:
        return compute_afresh(engagement=engagement, now=now)
    key = (token, engagement.disposal_date, str(engagement.phase), gates.rules())
    kept = _KEPT.get(engagement.pk)
    if (
        kept is not None
        and kept[0] == key
        and (kept[1] is None or now > kept[1])
        and (kept[2] is None or now <= kept[2])
    ):
        return kept[3]
    views = compute_afresh(engagement=engagement, now=now)
    after, until = _steady(views, now)
    _KEPT[engagement.pk] = (key, after, until, views)
    return views


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


def compute_afresh(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``, read and derived now."""
    overrides = overrides_of(engagement)
    status = _register_status(engagement)
    hq_ids = Site.objects.filter(engagement=engagement, level=SiteLevel.HQ).values_list("pk", flat=True)
    hq = [status.get(site_id, NO_FORMS) for site_id in hq_ids]  # the forms engagement-level steps read
    feedback = {
        r["step_id"]: (r["first"], r["n"])
        for r in Feedback.objects.filter(step__engagement=engagement)
        .values("step_id")
        .annotate(first=Min("reported_at"), n=Count("id"))
    }
    escalated = {
        step_id: (raised_at, report_id is not None)
        for step_id, raised_at, report_id in Escalation.objects.filter(
            step__engagement=engagement
        ).values_list("step_id", "raised_at", "wg_report_id")
    }
    instances = StepInstance.objects.filter(engagement=engagement).values_list(
        "pk", "site_id", "step_id", "confirmed_at", "created_at"
    )
    # A deadline depends only on the step, D and the overrides: computed once per step, not per instance.
    due: dict[str, dt.datetime | None] = {}
    views: dict[Key, StepView] = {}
    for pk, site_id, step_id, confirmed_at, created_at in instances:
        step = steps.BY_ID.get(step_id)
        if step is None:
            continue
        if step_id not in due:
            due[step_id] = deadlines.due_at(step_id, engagement.disposal_date, overrides)
        view = StepView(pk, step, site_id, due[step_id], created_at=created_at)
        if step.outputs:
            at_sites = [status.get(site_id, NO_FORMS)] if site_id else hq
            view.done_at, view.started, view.missing_registers = _own_done(
                step.outputs, step.optional, at_sites, created_at
            )
            view.late_since = _late_since(view.due, view.missing_registers, at_sites)
        elif not step.derived:
            view.done_at, view.started = confirmed_at, confirmed_at is not None
        if pk in feedback:
            view.feedback_at, view.feedback_count = feedback[pk]
        if pk in escalated:
            view.escalated_at, view.escalation_reported = escalated[pk]
        views[(site_id, step_id)] = view
    _order_and_gate(engagement, views)
    _routine(engagement, views, now)
    for view in views.values():
        if not view.step.derived:
            _settle(view, now)
    _derive_notes(views, status, now)
    return views


# 稳定期 routine -----------------------------------------------------------------------------------------


def _routine(engagement: Engagement, views: dict[Key, StepView], now: dt.datetime) -> None:
    """Mark the 稳定期 steps whose routine lapsed (routine.py's reminders, for the whole engagement in
    one query, and 表41 of the last trading day in one more)."""
    stable = [v for v in views.values() if v.step.phase == steps.STABILISATION and v.site_id is not None]
    if not stable:
        return
    today = now.astimezone(deadlines.BEIJING).date()
    lapses: dict[Key, list[str]] = defaultdict(list)
    for item in routine.due_items(engagement=engagement, sites=None, today=today):
        step_id = routine.ROUTINE_STEPS.get(item.register_no)
        if step_id and item.lapsed:
            lapses[(item.site_id, step_id)].append(item.reason)
    day = routine.last_trading_day(today)
    # A site owes 表41 for the trading days wholly in its 稳定期, from the day after its S-09 was created.
    owing = {
        v.site_id
        for v in stable
        if v.site_id is not None
        and v.step.id == routine.DAILY_REPORT_STEP
        and v.created_at is not None
        and v.created_at.astimezone(deadlines.BEIJING).date() < day
    }
    if owing:
        for site_id in routine.daily_report_missing(engagement=engagement, site_ids=owing, day=day):
            lapses[(site_id, routine.DAILY_REPORT_STEP)].append(
                _("表41 of %(day)s is missing or not signed") % {"day": day}
            )
    for view in stable:
        found = lapses.get((view.site_id, view.step.id))
        if found:
            view.reasons, view.lapsed, view.done_at = tuple(found), True, None


def _order_and_gate(engagement: Engagement, views: dict[Key, StepView]) -> None:
    """Apply the predecessors (in steps.py order, which lists predecessors first) and the register gates."""
    by_step: dict[str, list[StepView]] = defaultdict(list)
    for view in views.values():
        by_step[view.step.id].append(view)
    blocks = gates.blocking_reasons(engagement=engagement, pairs=list(views))
    for step in steps.STEPS:
        for view in by_step.get(step.id, ()):
            if step.after:
                view.waiting_for = tuple(
                    before for before in step.after if not _predecessor_done(views, by_step, view, before)
                )
            reasons = blocks.get((view.site_id, step.id))
            if reasons:
                view.gate_reasons = tuple(reasons)
            if view.waiting_for or view.gate_reasons:
                view.done_at = None


def _predecessor_done(
    views: dict[Key, StepView], by_step: dict[str, list[StepView]], view: StepView, before: str
) -> bool:
    if view.site_id is not None:
        mine = views.get((view.site_id, before)) or views.get((None, before))
        return mine is None or mine.done_at is not None
    return all(other.done_at is not None for other in by_step.get(before, []))


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

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

``compute`` reads the whole engagement in a fixed number of queries, whatever the number of sites.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Q

from handover.org.models import Engagement, Site, SiteLevel
from handover.registers.models import Form, FormState
from handover.workflow import deadlines, gates, steps
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
SIGNED = (FormState.SIGNED, FormState.ARCHIVED)

Key = tuple[int | None, str]  # (site id, or None for an engagement-level step; step id)


@dataclass
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

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def overrides_of(engagement: Engagement) -> dict[str, steps.Deadline]:
    """The engagement's deadlines that 技术组 changed, by step."""
    return {
        o.step_id: steps.Deadline(o.day, o.time)
        for o in DeadlineOverride.objects.filter(engagement=engagement).only("step_id", "day", "time")
    }


def _register_status(engagement: Engagement) -> dict[tuple[int, int], tuple[bool, bool, dt.datetime | None]]:
    """(site, register) → (a current form exists, every current form is signed, when the last was signed)."""
    outputs = {number for step in steps.STEPS for number in step.outputs}
    rows = (
        Form.objects.filter(engagement=engagement, is_current=True, register_no__in=outputs)
        .values("site_id", "register_no")
        .annotate(
            n=Count("id", distinct=True),
            signed=Count("id", filter=Q(state__in=SIGNED), distinct=True),
            last=Max("signatures__signed_at", filter=Q(state__in=SIGNED)),
        )
    )
    return {(r["site_id"], r["register_no"]): (r["n"] > 0, r["n"] == r["signed"], r["last"]) for r in rows}


def _own_done(
    step: steps.Step,
    site_ids: list[int],
    status: dict[tuple[int, int], tuple[bool, bool, dt.datetime | None]],
) -> tuple[dt.datetime | None, bool, tuple[int, ...]]:
    """When the step's own registers were all signed (None if not), whether any was started, and the
    registers still missing a signed form."""
    last: dt.datetime | None = None
    started = False
    missing: list[int] = []
    for number in step.outputs:
        entries = [status[(site_id, number)] for site_id in site_ids if (site_id, number) in status]
        started = started or bool(entries)
        if not entries or not all(all_signed for _, all_signed, _ in entries):
            missing.append(number)
            continue
        times = [t for _, _, t in entries if t is not None]
        last = max([last, *times]) if last else max(times, default=None)
    return (None if missing else last), started, tuple(missing)


def compute(*, engagement: Engagement, now: dt.datetime) -> dict[Key, StepView]:
    """Every step instance of the engagement with its state at ``now``."""
    overrides = overrides_of(engagement)
    status = _register_status(engagement)
    hq_ids = list(Site.objects.filter(engagement=engagement, level=SiteLevel.HQ).values_list("pk", flat=True))
    feedback = {
        r["step_id"]: (r["first"], r["n"])
        for r in Feedback.objects.filter(step__engagement=engagement)
        .values("step_id")
        .annotate(first=Min("reported_at"), n=Count("id"))
    }
    escalated = dict(
        Escalation.objects.filter(step__engagement=engagement).values_list("step_id", "raised_at")
    )
    instances = StepInstance.objects.filter(engagement=engagement).values_list(
        "pk", "site_id", "step_id", "confirmed_at"
    )
    views: dict[Key, StepView] = {}
    for pk, site_id, step_id, confirmed_at in instances:
        step = steps.BY_ID.get(step_id)
        if step is None:
            continue
        view = StepView(pk, step, site_id, deadlines.due_at(step_id, engagement.disposal_date, overrides))
        if step.outputs:
            view.done_at, view.started, view.missing_registers = _own_done(
                step, [site_id] if site_id else hq_ids, status
            )
        else:
            view.done_at, view.started = confirmed_at, confirmed_at is not None
        view.feedback_at, view.feedback_count = feedback.get(pk, (None, 0))
        view.escalated_at = escalated.get(pk)
        views[(site_id, step_id)] = view
    _order_and_gate(engagement, views)
    for view in views.values():
        _settle(view, now)
    return views


def _order_and_gate(engagement: Engagement, views: dict[Key, StepView]) -> None:
    """Apply the predecessors (in steps.py order, which lists predecessors first) and the register gates."""
    by_step: dict[str, list[StepView]] = defaultdict(list)
    for view in views.values():
        by_step[view.step.id].append(view)
    blocks = gates.blocking_reasons(engagement=engagement, pairs=list(views))
    for step in steps.STEPS:
        for view in by_step.get(step.id, []):
            view.waiting_for = tuple(
                before for before in step.after if not _predecessor_done(views, by_step, view, before)
            )
            view.gate_reasons = tuple(blocks.get((view.site_id, step.id), ()))
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
    overdue = deadlines.is_overdue(due, done_at=None, now=now)
    if overdue:
        view.state = OVERDUE
    elif view.waiting_for or view.gate_reasons:
        view.state = BLOCKED
    else:
        view.state = IN_PROGRESS if view.started else PENDING
    if view.site_id is not None and overdue:
        view.needs_feedback = view.feedback_at is None
        view.needs_escalation = view.escalated_at is None and deadlines.needs_escalation(
            due, done_at=None, feedback_at=view.feedback_at, now=now
        )

"""Deadlines relative to the disposal date D, and the same-day feedback rule (第二十七条第1、2项).

Times are Beijing time (the exchanges' clock), whatever the server's zone. ``now`` is always passed in, so
the rules are checked with a controllable clock.
"""

from __future__ import annotations

import datetime as dt

from handover.core.calendar import EXCHANGE_TIME
from handover.workflow.steps import BY_ID, Deadline

BEIJING = EXCHANGE_TIME  # one Beijing time zone for the whole house (core/calendar.py)
END_OF_DAY = dt.time(23, 59, 59)


def due_at(
    step_id: str, disposal_date: dt.date, overrides: dict[str, Deadline] | None = None
) -> dt.datetime | None:
    """When ``step_id`` is due for an engagement whose D is ``disposal_date``; None if it has no deadline."""
    deadline = (overrides or {}).get(step_id) or BY_ID[step_id].deadline
    if deadline is None:
        return None
    hour, minute = (int(part) for part in deadline.time.split(":"))
    day = disposal_date + dt.timedelta(days=deadline.day)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BEIJING)


def is_overdue(due: dt.datetime | None, *, done_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Late: not done by its deadline (a step done late stays 'done late', not overdue)."""
    if due is None:
        return False
    return done_at is None and now > due


def feedback_due_by(due: dt.datetime) -> dt.datetime:
    """第二十七条第2项: a step not finished in time is reported to 技术组 the same day, by the end of the day
    on which it fell due (Beijing time)."""
    local = due.astimezone(BEIJING)
    return dt.datetime.combine(local.date(), END_OF_DAY, tzinfo=BEIJING)


def needs_escalation(
    due: dt.datetime | None, *, done_at: dt.datetime | None, feedback_at: dt.datetime | None, now: dt.datetime
) -> bool:
    """Overdue with no feedback from the site by the end of the day: 技术组 must chase it."""
    if not is_overdue(due, done_at=done_at, now=now) or due is None:
        return False
    return feedback_at is None and now > feedback_due_by(due)

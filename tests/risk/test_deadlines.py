"""Deadline arithmetic on the exchange calendar, as properties: the deadline is a trading day after the
start, never moves backwards when the start or the count grows, and counts exactly ``days`` trading days."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from handover.core.calendar import TradingCalendar
from handover.risk.deadlines import after_working_days
from handover.workflow.deadlines import BEIJING

starts = st.datetimes(min_value=dt.datetime(2005, 1, 1), max_value=dt.datetime(2026, 10, 31)).map(
    lambda d: d.replace(tzinfo=BEIJING)
)
CALENDAR = TradingCalendar()


@given(start=starts, days=st.integers(min_value=1, max_value=15))
def test_the_deadline_is_the_nth_trading_day_after_the_start(start, days):
    due = after_working_days(start, days)
    assert due > start and CALENDAR.is_trading_day(due.date())
    between = list(CALENDAR.trading_days(start.date() + dt.timedelta(days=1), due.date()))
    assert len(between) == days


@given(start=starts, later=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=20)),
       days=st.integers(min_value=1, max_value=10))  # fmt: skip
def test_the_deadline_never_moves_backwards(start, later, days):
    assert after_working_days(start + later, days) >= after_working_days(start, days)
    assert after_working_days(start, days + 1) > after_working_days(start, days)

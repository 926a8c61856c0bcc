"""Deadline arithmetic of the reporting clocks, pure: absolute instants from the detection time, and working
days counted on the exchange calendar (a trading day is a weekday that is not a holiday; the weekend make-up
working days 调休上班日 are not trading days, so they do not count)."""

from __future__ import annotations

import datetime as dt

from handover.core.calendar import TradingCalendar
from handover.workflow.deadlines import BEIJING


def after_working_days(
    start: dt.datetime, days: int, *, day_end: str = "17:00", weekdays_only: bool = False
) -> dt.datetime:
    """``day_end`` (Beijing) of the ``days``-th trading day after the Beijing date of ``start``. The calendar
    refuses years its holiday data does not cover; ``weekdays_only`` then counts Monday to Friday."""
    calendar = TradingCalendar()
    day = start.astimezone(BEIJING).date()
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 if weekdays_only else calendar.is_trading_day(day):
            counted += 1
    hour, minute = (int(part) for part in day_end.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BEIJING)

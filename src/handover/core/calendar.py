"""The Shanghai/Shenzhen trading calendar, offline: weekdays that are not mainland statutory holidays.

Holidays come from the ``chinesecalendar`` package (module ``chinese_calendar``), which ships the State
Council's yearly holiday notices as data (2004 to its release year; a newer release adds the next year).
The exchanges close on those holidays but never open on the weekend make-up working days (调休上班日), so
a trading day is a Monday-to-Friday that is not a holiday. The few days the exchanges closed beyond the
State Council's list are kept in ``EXCHANGE_CLOSURES``; more can come from a file (one date per line).

It lives in ``core`` because every app asks it (registers' 交易时段内 rule, the 稳定期 daily report 表41) and
imports no Django, so the field agent (``handover.fixity``) may import it too; an import-linter contract
keeps it Django-free. The sessions are those of 第三十一条第3、9项 (work in trading hours).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

import chinese_calendar

CALENDARS = ("XSHG", "XSHE")

# The exchanges' time zone (Beijing time), and their sessions with the opening call auction
# (9:15–11:30, 13:00–15:00).
EXCHANGE_TIME = ZoneInfo("Asia/Shanghai")
SESSIONS = ((dt.time(9, 15), dt.time(11, 30)), (dt.time(13, 0), dt.time(15, 0)))


class CalendarError(ValueError):
    """A date the calendar cannot answer for: bad text, an unknown calendar, a year without holiday data."""


# Closures announced by the exchanges (上交所/深交所《休市安排》) on days the State Council's notice left as
# working days: Spring Festival closures longer than the holiday in 2005 and 2006, and 2024-02-09 (除夕, a
# Friday that the 2024 notice only encouraged as a day off). With these, the calendar agrees day by day with
# exchange_calendars 4.13.2 (XSHG) from 2005-01-04 to 2026-12-31 (checked once; docs/fixity.md).
EXCHANGE_CLOSURES = frozenset(
    {
        dt.date(2005, 2, 7),
        dt.date(2005, 2, 8),
        dt.date(2006, 1, 26),
        dt.date(2006, 1, 27),
        dt.date(2024, 2, 9),
    }
)


def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD or YYYYMMDD."""
    cleaned = text.strip().replace("-", "")
    try:
        return dt.datetime.strptime(cleaned, "%Y%m%d").date()
    except ValueError:
        raise CalendarError(f"bad date {text!r}: write it as 2024-10-08 or 20241008") from None


def read_closures(path: str) -> frozenset[dt.date]:
    """Extra closures, one date per line; blank lines and ``#`` comments are skipped."""
    found: set[dt.date] = set()
    try:
        with open(path, encoding="utf-8") as source:
            for number, line in enumerate(source, start=1):
                text = line.split("#", 1)[0].strip()
                if text:
                    try:
                        found.add(parse_date(text))
                    except CalendarError as exc:
                        raise CalendarError(f"{path}, line {number}: {exc}") from None
    except OSError as exc:
        raise CalendarError(f"cannot read the closures file {path!r}: {exc.strerror or exc}") from exc
    return frozenset(found)


class TradingCalendar:
    """Answers "was this a trading day?" for dates the holiday data covers, and refuses others."""

    def __init__(self, name: str = "XSHG", closures: Iterable[dt.date] = ()) -> None:
        if name not in CALENDARS:
            raise CalendarError(f"unknown calendar {name!r}: choose {' or '.join(CALENDARS)}")
        self.name = name
        self.closures = EXCHANGE_CLOSURES | frozenset(closures)

    def is_trading_day(self, day: dt.date) -> bool:
        if day.weekday() >= 5 or day in self.closures:
            return False
        try:
            return not chinese_calendar.is_holiday(day)
        except NotImplementedError:
            raise CalendarError(
                f"no holiday data for {day.year}: upgrade the chinesecalendar package "
                "(pip install -U chinesecalendar) or end the range earlier with --to"
            ) from None

    def trading_days(self, start: dt.date, end: dt.date) -> Iterator[dt.date]:
        """Every trading day from ``start`` to ``end``, both included."""
        day = start
        while day <= end:
            if self.is_trading_day(day):
                yield day
            day += dt.timedelta(days=1)


_XSHG = TradingCalendar("XSHG")


def is_trading_day(day: dt.date) -> bool:
    """A weekday that is not an exchange holiday; without holiday data for the year, any weekday.

    The lenient form for the server's rules and routine: a register must stay usable in a year the installed
    holiday data does not yet cover. The field agent's continuity check uses ``TradingCalendar`` and refuses.
    """
    try:
        return _XSHG.is_trading_day(day)
    except CalendarError:
        return day.weekday() < 5


def local(value: str | dt.datetime) -> dt.datetime:
    """A time in the exchanges' time zone; a time without a zone is taken as Beijing time."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=EXCHANGE_TIME)
    return moment.astimezone(EXCHANGE_TIME)


def session_met(
    start: str | dt.datetime, end: str | dt.datetime | None = None, *, touching: bool = True
) -> tuple[dt.date, dt.time, dt.time] | None:
    """The first trading session (day, open, close) the span from ``start`` to ``end`` (or the moment ``start``)
    meets, or None. ``touching`` counts a span that only ends at an open or starts at a close."""
    first, last = local(start), local(end) if end else local(start)
    if last < first:
        first, last = last, first
    day = first.date()
    while day <= last.date():
        if is_trading_day(day):
            for open_, close in SESSIONS:
                session_start = dt.datetime.combine(day, open_, EXCHANGE_TIME)
                session_end = dt.datetime.combine(day, close, EXCHANGE_TIME)
                overlaps = first < session_end and last > session_start
                touches = first == session_end or last == session_start
                if overlaps or (touching and touches):
                    return day, open_, close
        day += dt.timedelta(days=1)
    return None


def in_trading_hours(start: str | dt.datetime, end: str | dt.datetime | None = None) -> bool:
    """Whether the span from ``start`` to ``end`` (or the moment ``start``) meets a trading session."""
    return session_met(start, end) is not None

"""The Shanghai/Shenzhen trading calendar, offline: weekdays that are not mainland statutory holidays.

Holidays come from the ``chinesecalendar`` package (module ``chinese_calendar``), which ships the State
Council's yearly holiday notices as data (2004 to its release year; a newer release adds the next year).
The exchanges close on those holidays but never open on the weekend make-up working days (调休上班日), so
a trading day is a Monday-to-Friday that is not a holiday. The few days the exchanges closed beyond the
State Council's list are kept in ``EXCHANGE_CLOSURES``; more can come from a file (one date per line).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import chinese_calendar

from handover.fixity.errors import FixityError

CALENDARS = ("XSHG", "XSHE")

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
        raise FixityError(f"bad date {text!r}: write it as 2024-10-08 or 20241008") from None


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
                    except FixityError as exc:
                        raise FixityError(f"{path}, line {number}: {exc}") from None
    except OSError as exc:
        raise FixityError(f"cannot read the closures file {path!r}: {exc.strerror or exc}") from exc
    return frozenset(found)


class TradingCalendar:
    """Answers "was this a trading day?" for dates the holiday data covers, and refuses others."""

    def __init__(self, name: str = "XSHG", closures: Iterable[dt.date] = ()) -> None:
        if name not in CALENDARS:
            raise FixityError(f"unknown calendar {name!r}: choose {' or '.join(CALENDARS)}")
        self.name = name
        self.closures = EXCHANGE_CLOSURES | frozenset(closures)

    def is_trading_day(self, day: dt.date) -> bool:
        if day.weekday() >= 5 or day in self.closures:
            return False
        try:
            return not chinese_calendar.is_holiday(day)
        except NotImplementedError:
            raise FixityError(
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

"""continuity over the Shanghai/Shenzhen trading calendar, around the 2024 National Day week."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from handover.core import calendar as calendar_module
from handover.core.calendar import CalendarError, TradingCalendar, read_closures
from handover.fixity.continuity import continuity
from handover.fixity.errors import FixityError

D = dt.date


def test_calendar_knows_holidays_and_make_up_days() -> None:
    calendar = TradingCalendar()
    days = list(calendar.trading_days(D(2024, 9, 26), D(2024, 10, 12)))
    assert days == [D(2024, 9, 26), D(2024, 9, 27), D(2024, 9, 30), D(2024, 10, 8), D(2024, 10, 9),
                    D(2024, 10, 10), D(2024, 10, 11)]  # fmt: skip
    assert not calendar.is_trading_day(D(2024, 9, 29))  # a Sunday worked as a make-up day: no trading
    assert not calendar.is_trading_day(D(2024, 2, 9))  # exchanges closed on 除夕 2024
    assert calendar.is_trading_day(D(2005, 1, 4))


def test_calendar_refuses_years_without_data() -> None:
    with pytest.raises(CalendarError, match="no holiday data"):
        TradingCalendar().is_trading_day(D(2099, 1, 5))


def test_continuity_reports_a_year_without_data_as_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(FixityError, match="no holiday data"):
        continuity(str(tmp_path), "{system}/{yyyymmdd}", start=D(2099, 1, 5), end=D(2099, 1, 6))


def test_the_lenient_calendar_falls_back_to_weekdays_without_data() -> None:
    assert calendar_module.is_trading_day(D(2099, 1, 5)) and not calendar_module.is_trading_day(D(2099, 1, 3))


def make_sets(root: Path, system: str, days: list[dt.date], size: int = 1000) -> None:
    for day in days:
        folder = root / system / day.strftime("%Y%m%d")
        folder.mkdir(parents=True)
        (folder / "full.dmp").write_bytes(b"x" * size)


def test_gaps_empty_and_small_sets(tmp_path: Path) -> None:
    week = list(TradingCalendar().trading_days(D(2024, 9, 26), D(2024, 10, 11)))
    make_sets(tmp_path, "counter", [d for d in week if d != D(2024, 10, 9)])
    make_sets(tmp_path, "ta", [d for d in week if d != D(2024, 10, 10)])
    (tmp_path / "ta/20241010").mkdir()  # the folder is there, empty
    (tmp_path / "ta/20241008/full.dmp").write_bytes(b"x" * 20)  # 2% of the usual size
    make_sets(tmp_path, "counter", [D(2024, 10, 1), D(2024, 10, 12)])  # holiday / make-up day sets: fine
    report = continuity(str(tmp_path), "{system}/{yyyymmdd}/", start=D(2024, 9, 26), end=D(2024, 10, 11))
    problems = {(p.kind, p.system, p.date) for p in report.problems}
    assert problems == {
        ("gap", "counter", "2024-10-09"),
        ("empty", "ta", "2024-10-10"),
        ("small", "ta", "2024-10-08"),
    }
    assert report.extra["trading_days"] == 7 and report.extra["systems"] == ["counter", "ta"]


def test_file_pattern_closures_and_required_systems(tmp_path: Path) -> None:
    for day in ("20241008", "20241010", "20241011"):
        (tmp_path / f"clearing_{day}.dbf").write_bytes(b"d" * 100)
    closures = tmp_path / "closures.txt"
    closures.write_text("# an exchange closure nobody planned\n2024-10-09\n")
    report = continuity(
        str(tmp_path), "clearing_{yyyymmdd}.dbf", start=D(2024, 10, 8), end=D(2024, 10, 11),
        calendar=TradingCalendar(closures=read_closures(str(closures))), systems=("-", "hk"),
    )  # fmt: skip
    assert {(p.kind, p.system, p.date) for p in report.problems} == {
        ("gap", "hk", d) for d in ("2024-10-08", "2024-10-10", "2024-10-11")
    }


def test_bad_pattern_and_bad_dates(tmp_path: Path) -> None:
    with pytest.raises(FixityError, match="must name the date"):
        continuity(str(tmp_path), "{system}/", start=D(2024, 10, 8), end=D(2024, 10, 8))
    (tmp_path / "counter/20241332").mkdir(parents=True)
    (tmp_path / "counter/20241008").mkdir(parents=True)
    (tmp_path / "counter/20241008/a").write_bytes(b"a")
    report = continuity(str(tmp_path), "{system}/{yyyymmdd}/", start=D(2024, 10, 8), end=D(2024, 10, 8))
    assert [(p.kind, p.path) for p in report.problems] == [("bad_date", b"counter/20241332")]


BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("now", "gaps"),
    [
        (dt.datetime(2026, 12, 4, 0, 3, tzinfo=BEIJING), []),  # just after midnight
        (dt.datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING), []),  # during the trading day
        (dt.datetime(2026, 12, 4, 15, 31, tzinfo=BEIJING), []),  # after the close, the set being made
        (dt.datetime(2026, 12, 4, 23, 59, tzinfo=BEIJING), []),
        (dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC), []),  # 20:00 in Beijing
        (
            dt.datetime(2026, 12, 4, 20, 0, tzinfo=dt.UTC),
            ["2026-12-04"],
        ),  # the review's run: 04:00 on the 5th
    ],
)
def test_without_to_today_is_not_due_before_the_beijing_day_ends(
    tmp_path: Path, now: dt.datetime, gaps: list[str]
) -> None:
    """Sets up to 2026-12-03; today's (12-04, a Friday) is made after the close and not missing that day."""
    for day in TradingCalendar().trading_days(D(2026, 11, 30), D(2026, 12, 3)):
        (tmp_path / "counter" / f"{day:%Y%m%d}").mkdir(parents=True)
        (tmp_path / "counter" / f"{day:%Y%m%d}" / "trade.dbf").write_bytes(b"d" * 100)
    report = continuity(str(tmp_path), "{system}/{yyyymmdd}/", start=D(2026, 11, 30), now=now)
    assert [p.date for p in report.problems] == gaps
    assert report.extra["end"] == ("2026-12-04" if gaps else "2026-12-03")

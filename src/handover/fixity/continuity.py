"""Continuity over trading days: every system has its backup set for every trading day in a range.

A pattern names where a day's set lives, relative to the root, with placeholders ``{system}``,
``{yyyymmdd}``, ``{yyyy-mm-dd}``, ``{yyyy}``, ``{mm}``, ``{dd}`` and ``*`` (any characters inside one path
component). A pattern that ends with ``/`` names a directory (the set is every file below it); otherwise it
names files (the set is every file it matches). Problems: ``gap`` (no set on a trading day), ``empty``
(the set has no file or only empty files), ``small`` (under ``small_ratio`` × the system's median size),
``bad_date`` (a path that matches but whose date does not exist).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
from dataclasses import dataclass

from handover.core.calendar import CalendarError, TradingCalendar
from handover.fixity import walk as walking
from handover.fixity.errors import FixityError
from handover.fixity.report import Report, display_path

SMALL_RATIO = 0.10
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
_PLACEHOLDERS = {
    "system": r"(?P<system>[^/]+)",
    "yyyymmdd": r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})",
    "yyyy-mm-dd": r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})",
    "yyyy": r"(?P<y>\d{4})",
    "mm": r"(?P<m>\d{2})",
    "dd": r"(?P<d>\d{2})",
}


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern; ``directory`` when the set is a folder."""

    text: str
    regex: re.Pattern[str]
    directory: bool

    @classmethod
    def compile(cls, text: str) -> Pattern:
        directory = text.endswith("/")
        body = text.strip("/")
        parts = re.split(r"(\{[^}]*\}|\*)", body)
        regex = ""
        for part in parts:
            if part == "*":
                regex += r"[^/]*"
            elif part.startswith("{"):
                name = part[1:-1]
                if name not in _PLACEHOLDERS:
                    raise FixityError(f"unknown placeholder {part} in the pattern: use {_known()}")
                if f"(?P<{name[0]}>" in regex or f"(?P<{name}>" in regex:
                    raise FixityError(f"{part} appears twice in the pattern")
                regex += _PLACEHOLDERS[name]
            else:
                regex += re.escape(part)
        try:
            compiled = re.compile(regex + ("/" if directory else "$"))
        except re.error as exc:
            raise FixityError(f"bad pattern {text!r}: {exc}") from exc
        if not {"y", "m", "d"} <= set(compiled.groupindex):
            raise FixityError("the pattern must name the date: {yyyymmdd}, {yyyy-mm-dd} or {yyyy} {mm} {dd}")
        return cls(text, compiled, directory)

    def match(self, relpath: str, *, is_dir: bool) -> re.Match[str] | None:
        if is_dir:
            return self.regex.fullmatch(relpath + "/") if self.directory else None
        return self.regex.match(relpath)


def _known() -> str:
    return ", ".join("{" + name + "}" for name in _PLACEHOLDERS) + ", *"


def default_end(now: dt.datetime | None = None) -> dt.date:
    """Yesterday in Shanghai: today's set is made after the close, so it is not due before the day ends.
    The day is Beijing's whatever the machine's zone: at 20:00 UTC the Beijing day is already the next."""
    return (now or dt.datetime.now(SHANGHAI)).astimezone(SHANGHAI).date() - dt.timedelta(days=1)


def continuity(
    root: str,
    pattern: str,
    *,
    start: dt.date,
    end: dt.date | None = None,
    calendar: TradingCalendar | None = None,
    systems: tuple[str, ...] = (),
    small_ratio: float = SMALL_RATIO,
    now: dt.datetime | None = None,
) -> Report:
    """Gaps, empty and small sets for every system found (and every one named in ``systems``); without
    ``end``, up to ``default_end(now)``."""
    end = end or default_end(now)
    if end < start:
        raise FixityError(f"--to {end} is before --from {start}")
    calendar = calendar or TradingCalendar()
    compiled = Pattern.compile(pattern)
    base = os.path.abspath(os.fsencode(root))
    if not os.path.isdir(base):
        raise FixityError(f"{root!r} is not a directory")
    report = Report("continuity", root=display_path(base))
    try:
        days = list(calendar.trading_days(start, end))
    except CalendarError as exc:  # the agent reports it as its own error (exit 2)
        raise FixityError(str(exc)) from None
    sets = _collect(base, compiled, start, end, report)
    names = sorted({system for system, _ in sets} | set(systems))
    report.extra.update(
        pattern=pattern,
        start=start.isoformat(),
        end=end.isoformat(),
        calendar=calendar.name,
        trading_days=len(days),
        systems=names,
        sets=len(sets),
    )
    for system in names:
        _check_system(system, days, sets, small_ratio, report)
    return report.finish()


def _collect(
    base: bytes, pattern: Pattern, start: dt.date, end: dt.date, report: Report
) -> dict[tuple[str, dt.date], list[int]]:
    """(system, day) → [files, bytes] for every set in the range, from one streaming walk."""
    sets: dict[tuple[str, dt.date], list[int]] = {}
    for entry in walking.walk(base):
        if entry.kind not in (walking.FILE, walking.DIR):
            continue
        text = entry.relpath.decode("utf-8", "surrogateescape")
        match = pattern.match(text, is_dir=entry.kind == walking.DIR)
        if match is None:
            continue
        try:
            day = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
        except ValueError:
            if entry.kind == walking.DIR or not pattern.directory:
                report.add(
                    "bad_date", f"{match['y']}-{match['m']}-{match['d']} is not a date", path=entry.relpath
                )
            continue
        if not start <= day <= end:
            continue
        system = match.groupdict().get("system") or "-"
        counted = sets.setdefault((system, day), [0, 0])
        if entry.kind == walking.FILE:
            counted[0] += 1
            counted[1] += entry.size
            report.files += 1
            report.bytes += entry.size
    return sets


def _check_system(
    system: str,
    days: list[dt.date],
    sets: dict[tuple[str, dt.date], list[int]],
    small_ratio: float,
    report: Report,
) -> None:
    sizes = [sets[(system, day)][1] for day in days if sets.get((system, day), (0, 0))[1] > 0]
    median = statistics.median(sizes) if sizes else 0
    for day in days:
        found = sets.get((system, day))
        where = {"date": day.isoformat()}
        if found is None:
            report.add("gap", "no backup set on this trading day", system=system, date=where["date"])
        elif found[1] == 0:
            report.add(
                "empty", f"the set has {found[0]} files and 0 bytes", system=system, date=where["date"]
            )
        elif found[1] < small_ratio * median:
            share = found[1] / median
            report.add(
                "small",
                f"{found[1]} bytes in {found[0]} files: {share:.1%} of the median {median:.0f}",
                system=system,
                date=where["date"],
            )

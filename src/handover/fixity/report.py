"""The one report format of every command: JSON, a terminal summary, and an xlsx export.

JSON keys: ``format``, ``command``, ``tool``, ``host``, ``root``, ``started``, ``finished``, ``files``,
``bytes``, ``seconds``, ``counts`` (problems per kind), ``problems`` (each with ``kind``, ``path`` or
``system`` + ``date``, and ``detail``), plus what a command adds (``algorithm``, ``manifest``, ``hashed``,
``reused``, ``types``...). docs/fixity.md lists them.
"""

from __future__ import annotations

import builtins
import os
import time
from collections import Counter

from handover import __version__
from handover.fixity._types import TYPE_CHECKING, Record
from handover.fixity.manifest import format_ns

if TYPE_CHECKING:
    from typing import Any, TextIO

FORMAT = "handover-fixity-report/1"
TOOL = f"handover-agent {__version__}"
SUMMARY_LIMIT = 20

# Every kind of problem, in the order a summary lists them.
KINDS = (
    "missing",
    "extra",
    "changed",
    "size",
    "moved",
    "unreadable",
    "mismatch",
    "modified_after_seal",
    "added",
    "removed",
    "gap",
    "empty",
    "small",
    "bad_date",
)


def display_path(path: bytes) -> str:
    """A path for people: UTF-8 if it is, else with ``\\xNN`` for the bytes that are not."""
    return path.decode("utf-8", "backslashreplace")


class Problem(Record):
    """One thing wrong. ``path`` is raw bytes (names need not be UTF-8); gaps carry system and date."""

    __slots__ = ("date", "detail", "kind", "path", "system")

    def __init__(
        self,
        kind: str,
        detail: str,
        path: bytes | None = None,
        system: str | None = None,
        date: str | None = None,
    ) -> None:
        self.kind, self.detail, self.path, self.system, self.date = kind, detail, path, system, date

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.path is not None:
            out["path"] = display_path(self.path)
            try:
                self.path.decode("utf-8")
            except UnicodeDecodeError:
                out["path_hex"] = self.path.hex()
        if self.system is not None:
            out["system"] = self.system
        if self.date is not None:
            out["date"] = self.date
        out["detail"] = self.detail
        return out


class Report(Record):
    """What a run found; ``extra`` holds the command's own keys."""

    __slots__ = (
        "_clock",
        "bytes",
        "command",
        "extra",
        "files",
        "finished_ns",
        "problems",
        "root",
        "seconds",
        "started_ns",
    )

    def __init__(self, command: str, root: str = "", files: int = 0, bytes: int = 0) -> None:
        self.command, self.root, self.files, self.bytes = command, root, files, bytes
        self.problems: list[Problem] = []
        self.extra: dict[str, Any] = {}
        self.started_ns, self.finished_ns = time.time_ns(), 0
        self._clock, self.seconds = time.monotonic(), 0.0

    def add(
        self,
        kind: str,
        detail: str,
        *,
        path: builtins.bytes | None = None,
        system: str | None = None,
        date: str | None = None,
    ) -> None:
        self.problems.append(Problem(kind, detail, path, system, date))

    def finish(self) -> Report:
        self.finished_ns = time.time_ns()
        self.seconds = round(time.monotonic() - self._clock, 3)
        return self

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        counted = Counter(p.kind for p in self.problems)
        return {kind: counted[kind] for kind in sorted(counted, key=_kind_order)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "command": self.command,
            "tool": TOOL,
            "host": host_name(),
            "root": self.root,
            "started": format_ns(self.started_ns),
            "finished": format_ns(self.finished_ns or self.started_ns),
            "files": self.files,
            "bytes": self.bytes,
            "seconds": self.seconds,
            **self.extra,
            "counts": self.counts(),
            "problems": [p.as_dict() for p in self.problems],
        }


def host_name() -> str:
    """This machine's name, as ``hostname`` prints it (without the socket and platform modules' import)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # Windows

    return socket.gethostname()


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def write_json(report: Report, path: str) -> None:
    """Written to a temporary name and renamed, so a reader never sees half a report."""
    import json  # only the runs that write one pay its import

    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(report.as_dict(), out, ensure_ascii=False, indent=1)
        out.write("\n")
    os.replace(tmp, path)


def write_xlsx(report: Report, path: str) -> None:
    """A workbook with a summary sheet and one row per problem (strings written as strings, never formulas)."""
    import json

    import xlsxwriter

    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    summary = book.add_worksheet("summary")
    data = report.as_dict()
    rows = [(k, data[k]) for k in data if k not in ("problems", "counts")]
    rows += [(f"problems: {kind}", n) for kind, n in data["counts"].items()]
    summary.set_column(0, 0, 22)
    summary.set_column(1, 1, 60)
    for row, (key, value) in enumerate(rows):
        summary.write_string(row, 0, str(key), bold)
        if isinstance(value, int | float) and not isinstance(value, bool):
            summary.write_number(row, 1, value)
        else:
            summary.write_string(
                row, 1, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
            )
    sheet = book.add_worksheet("problems")
    columns = ("kind", "path", "system", "date", "detail")
    for col, (name, width) in enumerate(zip(columns, (18, 60, 14, 12, 80), strict=True)):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, name, bold)
    for row, problem in enumerate(data["problems"], start=1):
        for col, name in enumerate(columns):
            sheet.write_string(row, col, str(problem.get(name, "")))
    book.close()


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def print_summary(report: Report, out: TextIO, *, limit: int = SUMMARY_LIMIT) -> None:
    """A few lines for the terminal: totals, rate, problems per kind, the first problems."""
    rate = report.bytes / report.seconds if report.seconds else 0.0
    out.write(
        f"{report.command}: {report.files:,} files, {human_bytes(report.bytes)} in {report.seconds:.1f} s"
        f" ({human_bytes(rate)}/s)\n"
    )
    if report.ok:
        out.write("OK: no problem found\n")
        return
    counts = ", ".join(f"{n:,} {kind}" for kind, n in report.counts().items())
    out.write(f"PROBLEMS: {len(report.problems):,} ({counts})\n")
    for problem in report.problems[:limit]:
        where = (
            display_path(problem.path)
            if problem.path is not None
            else " ".join(x for x in (problem.system, problem.date) if x)
        )
        out.write(f"  {problem.kind:<20} {where}: {problem.detail}\n")
    if len(report.problems) > limit:
        out.write(f"  ... and {len(report.problems) - limit:,} more (write them all with --json or --xlsx)\n")

"""``handover-agent``: the field agent. Runs from a plain ``pip install``: no settings, no database, no Django.

Exit codes: 0 nothing wrong; 1 problems found (listed in the report); 2 the run could not be done (bad
arguments, unreadable manifest...); 130 interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence

from handover import __version__
from handover.fixity import continuity, integrity, readable, report
from handover.fixity.errors import FixityError
from handover.fixity.hashing import ALGORITHMS
from handover.fixity.trading_calendar import CALENDARS, TradingCalendar, parse_date, read_closures

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _common(parser: argparse.ArgumentParser, *, jobs: bool = True, rate: bool = True) -> None:
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON (docs/fixity.md)")
    parser.add_argument("--xlsx", metavar="FILE", help="write the report as an Excel workbook")
    parser.add_argument(
        "--progress", action="store_true", help="show progress even when stderr is not a terminal"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when there is no problem")
    if jobs:
        parser.add_argument(
            "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: one per core)"
        )
    if rate:
        parser.add_argument(
            "--max-rate", type=float, metavar="MB/s", help="read at most this many MB (10^6 bytes) per second"
        )


def _date(text: str) -> dt.date:
    """argparse's ``type=`` only turns ValueError-like errors into a usage message."""
    try:
        return parse_date(text)
    except FixityError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handover-agent",
        description="Backup verification for a custody handover: manifests, integrity, readability, continuity.",
    )
    parser.add_argument("--version", action="version", version=f"handover-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="write a manifest of every file under ROOT")
    scan.add_argument("root", metavar="ROOT")
    scan.add_argument("-o", "--output", required=True, metavar="MANIFEST")
    scan.add_argument("--algo", choices=ALGORITHMS, default="sha256")
    _common(scan)

    verify = commands.add_parser("verify", help="check ROOT against a manifest and report every problem")
    verify.add_argument("root", metavar="ROOT")
    verify.add_argument("--manifest", required=True, metavar="MANIFEST")
    verify.add_argument(
        "--journal", metavar="FILE", help="resume journal (default: next to the report or manifest)"
    )
    _common(verify)

    check = commands.add_parser("check-readable", help="open every file under ROOT by its real type")
    check.add_argument("root", metavar="ROOT")
    _common(check, rate=False)

    cont = commands.add_parser("continuity", help="every trading day has its backup set")
    cont.add_argument("root", metavar="ROOT")
    cont.add_argument("--pattern", required=True, help="where a day's set lives, e.g. '{system}/{yyyymmdd}/'")
    cont.add_argument("--from", dest="start", required=True, type=_date, metavar="DATE")
    cont.add_argument("--to", dest="end", type=_date, metavar="DATE", help="default: yesterday (Shanghai)")
    cont.add_argument("--calendar", choices=CALENDARS, default="XSHG")
    cont.add_argument("--closures", metavar="FILE", help="extra closed days, one date per line")
    cont.add_argument(
        "--system", action="append", default=[], help="a system that must have sets (repeatable)"
    )
    cont.add_argument(
        "--small", type=float, default=continuity.SMALL_RATIO, help="'small' below this × median"
    )
    _common(cont, jobs=False, rate=False)

    compare = commands.add_parser("compare", help="what changed between two manifests")
    compare.add_argument("old", metavar="OLD_MANIFEST")
    compare.add_argument("new", metavar="NEW_MANIFEST")
    _common(compare, jobs=False, rate=False)
    return parser


def _options(args: argparse.Namespace) -> integrity.Options:
    if getattr(args, "jobs", 1) < 1:
        raise FixityError("--jobs must be at least 1")
    rate = getattr(args, "max_rate", None)
    if rate is not None and rate <= 0:
        raise FixityError("--max-rate must be above 0")
    return integrity.Options(
        jobs=getattr(args, "jobs", 1),
        max_rate=rate * 1e6 if rate else None,
        progress=args.progress or sys.stderr.isatty(),
    )


def _run(args: argparse.Namespace) -> report.Report:
    options = _options(args)
    if args.command == "scan":
        return integrity.scan(args.root, args.output, algo=args.algo, options=options)
    if args.command == "verify":
        journal = args.journal or f"{args.json or args.manifest}.partial"
        return integrity.verify(args.root, args.manifest, journal_path=journal, options=options)
    if args.command == "check-readable":
        return readable.check_readable(args.root, options=options)
    if args.command == "continuity":
        closures = read_closures(args.closures) if args.closures else frozenset()
        return continuity.continuity(
            args.root, args.pattern, start=args.start, end=args.end,
            calendar=TradingCalendar(args.calendar, closures), systems=tuple(args.system), small_ratio=args.small,
        )  # fmt: skip
    return integrity.compare(args.old, args.new)


def main(
    argv: Sequence[str] | None = None, *, runner: Callable[[argparse.Namespace], report.Report] = _run
) -> int:
    """Entry point of ``handover-agent``; returns (and, as a script, exits with) the exit code."""
    args = build_parser().parse_args(argv)
    try:
        result = runner(args)
        if args.json:
            report.write_json(result, args.json)
        if args.xlsx:
            report.write_xlsx(result, args.xlsx)
    except FixityError as exc:
        sys.stderr.write(f"handover-agent {args.command}: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write(
            f"handover-agent {args.command}: interrupted; run the same command again to resume\n"
        )
        return EXIT_INTERRUPTED
    except OSError as exc:
        sys.stderr.write(f"handover-agent {args.command}: {exc.strerror or exc}: {exc.filename or ''}\n")
        return EXIT_ERROR
    if not (args.quiet and result.ok):
        report.print_summary(result, sys.stdout)
    return EXIT_OK if result.ok else EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())

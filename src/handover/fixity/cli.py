"""``handover-agent``: the field agent. Runs from a plain ``pip install``: no settings, no database, no Django.

Exit codes: 0 nothing wrong; 1 problems found (listed in the report); 2 the run could not be done (bad
arguments, unreadable manifest, no site key...); 130 interrupted (rerun the same command to resume).
``enroll``, ``bundle``, ``upload`` and ``discover`` exit 0 when done and 2 when not (a refused bundle: the reason
is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from handover import __version__
from handover.fixity._types import TYPE_CHECKING
from handover.fixity.errors import FixityError

# A command imports only the modules it runs: the signing and network modules (cryptography, http) took
# four fifths of the start-up, which every scan and verify paid (docs/benchmarks.md).
if TYPE_CHECKING:
    import datetime as dt
    from typing import Any

    from handover.fixity import integrity, report

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
TOKEN_ENV = "HANDOVER_AGENT_TOKEN"  # noqa: S105 (the name of the variable, not a token)


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
    from handover.core.calendar import CalendarError, parse_date

    try:
        return parse_date(text)
    except CalendarError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Formatter(argparse.HelpFormatter):
    """argparse's, with the terminal's width read here: argparse imports shutil for it (and shutil bz2 and
    lzma), a few milliseconds of every run although only --help and errors are ever formatted."""

    def __init__(self, prog: str, **options: Any) -> None:
        options.setdefault("width", _columns() - 2)  # as argparse does
        super().__init__(prog, **options)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size tells it ($COLUMNS first), 80 when there is none."""
    try:
        if columns := int(os.environ.get("COLUMNS", "0")):
            return columns
    except ValueError:
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
    except (ValueError, OSError):  # not a terminal, or stdout closed
        return 80


class _CommandParser(argparse.ArgumentParser):
    """A command's parser, with the same formatter."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("formatter_class", _Formatter)
        super().__init__(**options)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone: a run builds only its own (the nine took a
    tenth of a small verify's time)."""
    parser = argparse.ArgumentParser(
        prog="handover-agent",
        description="Backup verification for a custody handover: manifests, integrity, readability, continuity;"
        " and field discovery of a Linux host's accounts (discover).",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"handover-agent {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser
    )
    for name, add in COMMANDS.items():
        if command in (None, name):
            add(commands)
    return parser


def _add_scan(commands: Any) -> None:
    from handover.fixity.hashing import ALGORITHMS

    scan = commands.add_parser("scan", help="write a manifest of every file under ROOT")
    scan.add_argument("root", metavar="ROOT")
    scan.add_argument("-o", "--output", required=True, metavar="MANIFEST")
    scan.add_argument("--algo", choices=ALGORITHMS, default="sha256")
    _common(scan)


def _add_verify(commands: Any) -> None:
    verify = commands.add_parser("verify", help="check ROOT against a manifest and report every problem")
    verify.add_argument("root", metavar="ROOT")
    verify.add_argument("--manifest", required=True, metavar="MANIFEST")
    verify.add_argument(
        "--journal", metavar="FILE", help="resume journal (default: next to the report or manifest)"
    )
    _common(verify)


def _add_check_readable(commands: Any) -> None:
    check = commands.add_parser("check-readable", help="open every file under ROOT by its real type")
    check.add_argument("root", metavar="ROOT")
    _common(check)


def _add_continuity(commands: Any) -> None:
    from handover.core.calendar import CALENDARS

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
    cont.add_argument("--small", type=float, help="'small' below this × median (default 0.10)")
    _common(cont, jobs=False, rate=False)


def _add_compare(commands: Any) -> None:
    compare = commands.add_parser("compare", help="what changed between two manifests")
    compare.add_argument("old", metavar="OLD_MANIFEST")
    compare.add_argument("new", metavar="NEW_MANIFEST")
    _common(compare, jobs=False, rate=False)


def _add_upload(commands: Any) -> None:
    upload = commands.add_parser(
        "upload",
        help="send bundles to the server (when the network cannot, send the file by courier instead)",
    )
    upload.add_argument("bundles", nargs="+", metavar="BUNDLE")
    upload.add_argument("--server", required=True, metavar="URL")
    upload.add_argument("--token", help=f"API token (default: ${TOKEN_ENV})")


def _add_enroll(commands: Any) -> None:
    enroll = commands.add_parser(
        "enroll",
        help="get this site's signing key: register it with the server, export it, or import 技术组's key file",
        description="Make this agent's site key (Ed25519) and register it with the server (--server and"
        " --token), or export its public half for 技术组 to register (--export FILE); or import a key file"
        " that 技术组 made on the server (--key-file FILE). The key is kept in the agent folder, mode 0600.",
    )
    enroll.add_argument("--engagement", metavar="CODE", help="the engagement's code (as in its addresses)")
    enroll.add_argument("--site", metavar="CODE", help="the site's code")
    how = enroll.add_mutually_exclusive_group(required=True)
    how.add_argument("--server", metavar="URL", help="the Handover server, e.g. https://handover.example")
    how.add_argument("--export", metavar="FILE", help="write the public key file for 技术组 to register")
    how.add_argument("--key-file", metavar="FILE", help="a key file handed over by 技术组")
    enroll.add_argument(
        "--token", help=f"API token for --server (default: ${TOKEN_ENV}; never put it in a script)"
    )
    enroll.add_argument("--label", default="", help="a name for the key on the server (e.g. the laptop)")
    enroll.add_argument("--agent-dir", metavar="DIR", help="where keys live (default: $HANDOVER_AGENT_DIR"
                        " or ~/.handover-agent)")  # fmt: skip
    enroll.add_argument("--replace", action="store_true", help="replace the key this agent has")


def _add_bundle(commands: Any) -> None:
    pack = commands.add_parser(
        "bundle",
        help="pack reports (and their manifests) into one signed file for the server",
        description="Each report goes in with the manifests it names. --system and --register are given"
        " once for all reports or once per report, in order. Works offline.",
    )
    pack.add_argument("reports", nargs="+", metavar="REPORT", help="JSON reports written with --json")
    pack.add_argument("-o", "--output", required=True, metavar="FILE")
    pack.add_argument("--site", metavar="CODE", help="checked against the site of this agent's key")
    pack.add_argument("--system", action="append", default=[], metavar="NAME", help="the system checked")
    pack.add_argument(
        "--register", action="append", type=int, default=[], metavar="N",
        help="表8, 14, 15 or 29 (default: 15 for continuity and compare, else 14)",
    )  # fmt: skip
    pack.add_argument("--date", type=_date, metavar="DATE", help="the trading day, for 表29")
    pack.add_argument("--agent-dir", metavar="DIR", help="where the site key lives")


def _add_discover(commands: Any) -> None:
    discover = commands.add_parser(
        "discover",
        help="gather this Linux host's accounts, rights and keys into one signed bundle (field mode)",
        description="With --root / the collection script runs here (as root: shadow and sshd -T need it);"
        " with --root DIR it reads a folder or tar that linux_collect.sh wrote. Works offline.",
    )
    discover.add_argument("--root", required=True, metavar="DIR", help="/ or a collection folder or tar")
    discover.add_argument("--out", required=True, metavar="FILE", help="the bundle to write")
    discover.add_argument("--site", metavar="CODE", help="checked against the site of this agent's key")
    discover.add_argument("--system", default="", metavar="NAME", help="the system the host belongs to")
    discover.add_argument("--agent-dir", metavar="DIR", help="where the site key lives")


# In the order `handover-agent --help` lists them.
COMMANDS: dict[str, Callable[[Any], None]] = {
    "scan": _add_scan,
    "verify": _add_verify,
    "check-readable": _add_check_readable,
    "continuity": _add_continuity,
    "compare": _add_compare,
    "enroll": _add_enroll,
    "bundle": _add_bundle,
    "upload": _add_upload,
    "discover": _add_discover,
}


def _options(args: argparse.Namespace) -> integrity.Options:
    from handover.fixity import integrity

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
    from handover.fixity import integrity

    options = _options(args)
    if args.command == "scan":
        return integrity.scan(args.root, args.output, algo=args.algo, options=options)
    if args.command == "verify":
        journal = args.journal or f"{args.json or args.manifest}.partial"
        return integrity.verify(args.root, args.manifest, journal_path=journal, options=options)
    if args.command == "check-readable":
        from handover.fixity import readable

        return readable.check_readable(args.root, options=options)
    if args.command == "continuity":
        return _continuity(args)
    return integrity.compare(args.old, args.new)


def _continuity(args: argparse.Namespace) -> report.Report:
    from handover.core.calendar import CalendarError, TradingCalendar, read_closures
    from handover.fixity import continuity

    try:
        closures = read_closures(args.closures) if args.closures else frozenset()
    except CalendarError as exc:
        raise FixityError(str(exc)) from None
    small = continuity.SMALL_RATIO if args.small is None else args.small
    return continuity.continuity(
        args.root, args.pattern, start=args.start, end=args.end,
        calendar=TradingCalendar(args.calendar, closures), systems=tuple(args.system), small_ratio=small,
    )  # fmt: skip


def _spread(values: list[Any], count: int, option: str) -> list[Any]:
    """An option given once applies to every report; given N times, one per report."""
    if len(values) in (0, 1):
        return (values or [None]) * count
    if len(values) != count:
        raise FixityError(
            f"{option} is given {len(values)} times for {count} reports: give it once or once each"
        )
    return values


def _enroll(args: argparse.Namespace) -> str:
    from pathlib import Path

    from handover.fixity import keys

    agent_dir = Path(args.agent_dir) if args.agent_dir else keys.default_agent_dir()
    if args.key_file:
        try:
            text = Path(args.key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise FixityError(f"cannot read {args.key_file!r}: {exc.strerror or exc}") from exc
        key = keys.parse_private(text, source=args.key_file)
        for option, given, held in (
            ("--site", args.site, key.site),
            ("--engagement", args.engagement, key.engagement),
        ):
            if given and given != held:
                raise FixityError(f"{option} {given}: the key file is for {held}")
        path = keys.save(agent_dir, key, replace=args.replace)
        return f"key {key.key_id} for site {key.site} ({key.engagement}) imported into {path}"
    if not args.site or not args.engagement:
        raise FixityError("name the site and the engagement: --site CODE --engagement CODE")
    keys.ensure_free(agent_dir, replace=args.replace)  # before the server learns a key we could not keep
    key = keys.generate(engagement=args.engagement, site=args.site)
    if args.server:
        keys.register(server=args.server, token=_token(args), key=key, label=args.label)
        path = keys.save(agent_dir, key, replace=args.replace)
        return f"key {key.key_id} for site {key.site} registered with {args.server}; kept in {path}"
    path = keys.save(agent_dir, key, replace=args.replace)
    keys.export_public(Path(args.export), key)
    return (
        f"key {key.key_id} for site {key.site} kept in {path}; give {args.export} to 技术组 to register"
        " (read the key id out to them to check it)"
    )


def _bundle(args: argparse.Namespace) -> str:
    from pathlib import Path

    from handover.fixity import bundle, keys

    key = keys.load(Path(args.agent_dir) if args.agent_dir else None)
    count = len(args.reports)
    systems = _spread(args.system, count, "--system")
    registers = _spread(args.register, count, "--register")
    day = args.date.isoformat() if args.date else ""
    members = [
        bundle.Member(Path(r), system=s or "", register=n or 0, trade_date=day)
        for r, s, n in zip(args.reports, systems, registers, strict=True)
    ]
    index = bundle.create(Path(args.output), members, key=key, site=args.site or "")
    reports = sum(1 for m in index["members"] if m["kind"] == "report")
    return (
        f"{args.output}: {reports} reports, {len(index['members']) - reports} manifests, signed with key"
        f" {key.key_id} for site {key.site}"
    )


def _discover(args: argparse.Namespace) -> str:
    from pathlib import Path

    from handover.fixity import discover, keys

    key = keys.load(Path(args.agent_dir) if args.agent_dir else None)
    if args.site and args.site != key.site:
        raise FixityError(
            f"this agent's key is for site {key.site}, not {args.site}: enroll for {args.site} first"
        )
    inventory = discover.gather_local(Path(args.root))
    index = discover.create(Path(args.out), inventory, key=key, site=args.site or "", system=args.system)
    files = sum(1 for m in index["members"] if m["kind"] == "file")
    warned = f"; {len(inventory.warnings)} warnings (in the bundle)" if inventory.warnings else ""
    return (
        f"{args.out}: {len(inventory.accounts)} accounts of {inventory.target}, {files} files backed up,"
        f" signed with key {key.key_id} for site {key.site}{warned}"
    )


def _upload(args: argparse.Namespace) -> str:
    from pathlib import Path

    from handover.fixity import bundle, transport

    token = _token(args)
    lines = []
    for name in args.bundles:
        path = Path(name)
        index = bundle.peek_index(path)
        body, content_type = transport.multipart_file("file", path)
        try:
            status, answer = transport.post(
                args.server, bundle.UPLOAD_PATH.format(engagement=index["engagement"]), token=token, body=body,
                content_type=content_type, offline_hint="send the bundle by courier (第二十八条第8项)",
            )  # fmt: skip
        except transport.ServerRefused as exc:
            raise FixityError(f"{name}: {exc}") from None
        state = "imported" if status == 201 else "imported before; nothing changed"
        lines.append(
            f"{name}: {state} (digest {str(answer.get('digest', ''))[:12]}, {answer.get('problems')} problems)"
        )
    return "\n".join(lines)


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise FixityError(f"--server needs an API token: --token or ${TOKEN_ENV}")
    return str(token)


def _setup(args: argparse.Namespace) -> int:
    """enroll, bundle and upload: no report, a line saying what was done."""
    commands = {"enroll": _enroll, "bundle": _bundle, "upload": _upload, "discover": _discover}
    try:
        done = commands[args.command](args)
    except FixityError as exc:
        sys.stderr.write(f"handover-agent {args.command}: {exc}\n")
        return EXIT_ERROR
    except OSError as exc:
        sys.stderr.write(f"handover-agent {args.command}: {exc.strerror or exc}: {exc.filename or ''}\n")
        return EXIT_ERROR
    sys.stdout.write(done + "\n")
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None, *, runner: Callable[[argparse.Namespace], report.Report] = _run
) -> int:
    """Entry point of ``handover-agent``; returns (and, as a script, exits with) the exit code."""
    words = sys.argv[1:] if argv is None else argv
    command = next((w for w in words if not w.startswith("-")), None)  # the top level takes no values
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    if args.command in ("enroll", "bundle", "upload", "discover"):
        return _setup(args)
    from handover.fixity import report

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

"""``handover risk deadlines|check|report|owed|annual|vulns import --engagement CODE``: security management."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.core import clock
from handover.core.actors import Actor, system
from handover.org.models import Engagement
from handover.risk import vulnfiles
from handover.risk.selectors.deadlines import deadlines
from handover.risk.selectors.obligations import reports_owed
from handover.risk.services import vulns as vuln_services
from handover.risk.services.assessment import assessment_report_export
from handover.risk.services.incidents import clocks_check
from handover.risk.services.obligations import annual_report_export
from handover.workflow.deadlines import BEIJING


class Command(BaseCommand):
    help = (
        "Show what is due and overdue (incident reports, drills, risk acceptances), or check the clocks now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("deadlines", "what is due and overdue, earliest first; exit status 1 if anything is overdue"),
            ("check", "remind and escalate the incident reporting clocks now (the worker does this too)"),
        ):
            sub.add_parser(name, help=text).add_argument("--engagement", required=True, help="the code")
        report = sub.add_parser("report", help="the initial or overall risk assessment, in Chinese")
        report.add_argument("--engagement", required=True, help="the code")
        report.add_argument("--kind", required=True, choices=("initial", "overall"))
        report.add_argument("--format", required=True, choices=("docx", "pdf"), dest="fmt")
        report.add_argument("-o", "--output", required=True, help="the file to write")
        owed = sub.add_parser("owed", help="the reports owed to the regulator, with due dates and status")
        owed.add_argument("--engagement", required=True, help="the code")
        annual = sub.add_parser("annual", help="draft a year's security report (Word, Chinese)")
        annual.add_argument("--engagement", required=True, help="the code")
        annual.add_argument("--year", required=True, type=int)
        annual.add_argument("-o", "--output", required=True, help="the file to write")
        scans = sub.add_parser("vulns", help="vulnerability scans (三(四)一)").add_subparsers(
            dest="vulns", required=True
        )
        scan = scans.add_parser("import", help="import a scan: created / updated / unchanged / closed")
        scan.add_argument("--engagement", required=True, help="the code")
        scan.add_argument("--format", required=True, choices=vulnfiles.FORMATS, dest="fmt")
        scan.add_argument(
            "--scanner", default="", help="the tool of a generic CSV (its check ids are that tool's)"
        )
        scan.add_argument(
            "--scanned-at", default="", help="when the scan ran, if the file does not say (ISO time)"
        )
        scan.add_argument("--json", default="", help="also write the four counts to this file as JSON")
        scan.add_argument("--as", dest="login", default="", help="the login importing (default: the system)")
        scan.add_argument("file", help="the .nessus, .xml, .csv or .xlsx file")

    def handle(self, *args: Any, **options: Any) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"--engagement {options['engagement']!r}: no such engagement")
        with domain_run():
            if options["action"] == "report":
                self._report(engagement, options)
            elif options["action"] == "vulns":
                self._vulns_import(engagement, options)
            elif options["action"] == "owed":
                self._owed(engagement)
            elif options["action"] == "annual":
                self._annual(engagement, options)
            else:
                getattr(self, f"_{options['action']}")(engagement)

    def _deadlines(self, engagement: Engagement) -> None:
        now = clock.now()
        found = deadlines(user=system("cli"), engagement=engagement, now=now)
        late = [d for d in found if d.overdue]
        for item in found:
            mark = "OVERDUE" if item.overdue else "due    "
            when = item.due_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
            self.stdout.write(f"{mark}  {when}  {item.ref}  {item.what}")
        self.stdout.write(f"{len(found)} due, {len(late)} overdue")
        if late:
            raise SystemExit(1)

    def _report(self, engagement: Engagement, options: dict[str, Any]) -> None:
        content = assessment_report_export(actor=system("cli"), engagement=engagement, kind=options["kind"],
                                           fmt=options["fmt"])  # fmt: skip
        try:
            with open(options["output"], "wb") as out:
                out.write(content)
        except OSError as exc:
            raise CommandError(f"-o {options['output']}: {exc.strerror or exc}") from exc
        self.stdout.write(f"{options['output']}: {len(content)} bytes")

    def _vulns_import(self, engagement: Engagement, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from exc
        scanned_at = None
        if options["scanned_at"]:
            try:
                scanned_at = dt.datetime.fromisoformat(options["scanned_at"])
            except ValueError:
                raise CommandError(f"--scanned-at {options['scanned_at']!r}: not an ISO time") from None
            if scanned_at.tzinfo is None:
                scanned_at = scanned_at.replace(tzinfo=BEIJING)
        actor: Actor = system("cli")
        if options["login"]:
            login = get_user_model().objects.filter(username=options["login"], is_active=True).first()
            if login is None:
                raise CommandError(f"--as {options['login']!r}: no such active login")
            actor = login
        try:
            counts = vuln_services.vulns_import(actor=actor, engagement=engagement, fmt=options["fmt"],
                                                filename=path.name, content=content, scanner=options["scanner"],
                                                scanned_at=scanned_at)  # fmt: skip
        except vulnfiles.ScanRefused as exc:
            for place, reason in exc.problems:
                self.stderr.write(f"{path}: {place}: {reason}")
            raise CommandError(
                f"{path}: not imported, nothing written ({len(exc.problems)} problems)"
            ) from None
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(counts), encoding="utf-8")
        self.stdout.write(", ".join(f"{counts[k]} {k}" for k in vuln_services.COUNTS))

    def _owed(self, engagement: Engagement) -> None:
        found = reports_owed(user=system("cli"), engagement=engagement, now=clock.now())
        for item in found:
            when = item.due_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if item.due_at else "—"
            self.stdout.write(f"{item.status.upper():8}  {when:16}  {item.title}")
        late = sum(1 for item in found if item.status == "overdue")
        self.stdout.write(f"{len(found)} reports, {late} overdue")
        if late:
            raise SystemExit(1)

    def _annual(self, engagement: Engagement, options: dict[str, Any]) -> None:
        content = annual_report_export(actor=system("cli"), engagement=engagement, year=options["year"])
        try:
            Path(options["output"]).write_bytes(content)
        except OSError as exc:
            raise CommandError(f"-o {options['output']}: {exc.strerror or exc}") from exc
        self.stdout.write(f"{options['output']}: {len(content)} bytes")

    def _check(self, engagement: Engagement) -> None:
        counts = clocks_check(actor=system("cli"), now=clock.now(), engagement=engagement)
        self.stdout.write(f"{counts['reminded']} reminded, {counts['escalated']} escalated")

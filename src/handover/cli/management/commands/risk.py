"""``handover risk deadlines|check|report --engagement CODE``: security management from the command line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.core import clock
from handover.core.actors import system
from handover.core.context import command_context
from handover.core.errors import DomainError
from handover.org.models import Engagement
from handover.risk.selectors.deadlines import deadlines
from handover.risk.services.assessment import assessment_report_export
from handover.risk.services.incidents import clocks_check
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

    def handle(self, *args: Any, **options: Any) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"--engagement {options['engagement']!r}: no such engagement")
        try:
            with command_context("cli"):
                if options["action"] == "report":
                    self._report(engagement, options)
                else:
                    getattr(self, f"_{options['action']}")(engagement)
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc

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

    def _check(self, engagement: Engagement) -> None:
        counts = clocks_check(actor=system("cli"), now=clock.now(), engagement=engagement)
        self.stdout.write(f"{counts['reminded']} reminded, {counts['escalated']} escalated")

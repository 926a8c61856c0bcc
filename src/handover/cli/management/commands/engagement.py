"""``handover engagement list|create``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.core.actors import system
from handover.org import services
from handover.org.models import Engagement


class Command(BaseCommand):
    help = "List or create engagements. The list prints code names only (第十一条: firm names stay confidential)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="print each engagement's code, code name, D and phase")
        create = sub.add_parser("create", help="open a new engagement")
        create.add_argument("--code", required=True, help="letters, digits, hyphens; used in addresses")
        create.add_argument("--code-name", required=True)
        create.add_argument("--firm-name", required=True)
        create.add_argument("--custodian", required=True)
        create.add_argument("--disposal-date", required=True, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for e in Engagement.objects.order_by("code"):
                self.stdout.write(f"{e.code}\t{e.code_name}\tD={e.disposal_date}\t{e.phase}")
            return
        try:
            disposal = date.fromisoformat(options["disposal_date"])
        except ValueError:
            raise CommandError(f"--disposal-date {options['disposal_date']!r}: use YYYY-MM-DD") from None
        with domain_run():
            engagement = services.engagement_create(
                actor=system("cli"),
                code=options["code"],
                code_name=options["code_name"],
                firm_name=options["firm_name"],
                custodian_name=options["custodian"],
                disposal_date=disposal,
            )
        self.stdout.write(f"engagement {engagement.code} created")

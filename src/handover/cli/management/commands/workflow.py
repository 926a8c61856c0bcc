"""``handover workflow status|steps|escalate``: the 附件二 workflow from the command line."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.core import clock
from handover.core.actors import Actor, system
from handover.org.models import Engagement
from handover.workflow import selectors, services, state


class Command(BaseCommand):
    help = (
        "Show an engagement's workflow, create the current phase's missing steps, or run the escalation now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("status", "steps per state, overdue steps without feedback, open exception cases"),
            ("steps", "give every active site the current phase's steps it lacks (after adding sites)"),
            ("escalate", "raise every late site step without same-day feedback to 技术组 now"),
        ):
            sub.add_parser(name, help=text).add_argument("--engagement", required=True, help="the code")

    def handle(self, *args: Any, **options: Any) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"--engagement {options['engagement']!r}: no such engagement")
        actor = system("cli")
        with domain_run():
            getattr(self, f"_{options['action']}")(engagement, actor)

    def _status(self, engagement: Engagement, actor: Actor) -> None:
        views = state.compute(engagement=engagement, now=clock.now())
        counts = Counter(v.state for v in views.values() if v.step.phase == engagement.phase)
        self.stdout.write(f"{engagement.code}\t{engagement.phase}\tD={engagement.disposal_date}")
        for name in state.STATES:
            self.stdout.write(f"  {name:12} {counts.get(name, 0)}")
        waiting = sum(v.needs_feedback for v in views.values())
        self.stdout.write(f"  overdue without feedback: {waiting}")
        for path_id, name, n in selectors.open_cases_by_type(user=actor, engagement=engagement):
            self.stdout.write(f"  open {path_id} {name}: {n}")

    def _steps(self, engagement: Engagement, actor: Actor) -> None:
        created = services.phase_steps_create(actor=actor, engagement=engagement)
        self.stdout.write(f"{created} steps created")

    def _escalate(self, engagement: Engagement, actor: Actor) -> None:
        raised = services.escalations_raise(actor=actor, engagement=engagement)
        self.stdout.write(f"{len(raised)} late steps escalated")

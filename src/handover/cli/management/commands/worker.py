"""``handover worker``: run background tasks (django-tasks database backend). Several may run at once on
PostgreSQL; on SQLite run one. Makes sure the periodic audit checkpoint and the workflow's end-of-day
escalation, daily digest, 表41 drafting and
reminders are scheduled first. The process runs under ``HANDOVER_WORKER_MEMORY_LIMIT_MB`` (core/limits.py): an
import that needs more fails with a message instead of taking the machine's memory."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from handover.audit.tasks import checkpoint_schedule
from handover.core import clock
from handover.core.limits import memory_limit_apply
from handover.workflow.tasks import (
    daily_reports_schedule,
    digest_schedule,
    escalation_schedule,
    reminders_schedule,
)


class Command(BaseCommand):
    help = "Run the background task worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="run what is due, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        memory_limit_apply(megabytes=settings.HANDOVER_WORKER_MEMORY_LIMIT_MB)
        checkpoint_schedule()
        escalation_schedule(clock.now())
        digest_schedule(clock.now())
        daily_reports_schedule(clock.now())
        reminders_schedule(clock.now())
        extra = ["--batch"] if options["batch"] else []
        call_command("db_worker", "--interval", "2", *extra)

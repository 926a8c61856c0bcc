"""``handover worker``: run background tasks (django-tasks database backend). Several may run at once on
PostgreSQL; on SQLite run one. First it runs every periodic job that is overdue and plans the others, as
the apps declare them in core/schedule.py's PERIODIC (audit checkpoint, end-of-day escalation, daily digest,
表41 drafting, reminders, …); it sweeps what killed package builds left (``handover package sweep``) and the
signed files of bundle imports that failed or were killed (``backups.services.bundle_files_sweep``). The
process runs under ``HANDOVER_WORKER_MEMORY_LIMIT_MB`` (core/limits.py): an import that needs more fails with
a message instead of taking the machine's memory."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from handover.backups.services import bundle_files_sweep
from handover.core import clock, schedule
from handover.core.limits import memory_limit_apply
from handover.risk.tasks import worker_start as risk_worker_start


class Command(BaseCommand):
    help = "Run the background task worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="run what is due, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        memory_limit_apply(megabytes=settings.HANDOVER_WORKER_MEMORY_LIMIT_MB)
        schedule.start()
        risk_worker_start(clock.now())  # incident clocks: catch up at every start, then every 5 minutes
        self._sweep()
        extra = ["--batch"] if options["batch"] else []
        call_command("db_worker", "--interval", "2", *extra)

    def _sweep(self) -> None:
        """What killed builds and imports left; a file that cannot be removed is said, and the worker starts."""
        try:
            call_command("package", "sweep")  # a killed build's folder and zip, its build marked interrupted
            for name in bundle_files_sweep():  # a failed import's signed file, once no import runs
                self.stdout.write(f"removed {name}")
        except OSError as exc:
            self.stderr.write(f"sweep stopped: {exc}; the next start tries again")

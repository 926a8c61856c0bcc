"""``handover serve``: the embedded deployment in one command — gunicorn for pages and the API, plus one
background worker process for tasks (DESIGN.md decision 7). Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Handover with gunicorn and run one background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to listen on")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--no-worker", action="store_true", help="do not start the task worker")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("collectstatic", interactive=False, verbosity=0)
        handover = [sys.executable, "-m", "handover"]
        worker = None if options["no_worker"] else subprocess.Popen([*handover, "worker"])
        host = options["addr"]
        self.stdout.write(
            f"Handover is serving on http://{host}/  (data folder {settings.DATA_DIR}); Ctrl-C stops."
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "handover.wsgi",
                "--bind",
                host,
                "--workers",
                str(options["workers"]),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
            env={**os.environ},
        )
        try:
            server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGTERM)
            server.wait()
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                worker.wait()

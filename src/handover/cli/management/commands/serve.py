"""``handover serve``: the embedded deployment in one command — the vault's key keeper, gunicorn for pages
and the API, plus one background worker process for tasks (DESIGN.md decision 7). Ctrl-C stops them all.

The key keeper starts first and stops last: it holds the vault's master key in memory for every worker
(docs/vault.md), so the vault is sealed whenever serve starts and once it stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Serve Handover with gunicorn and run one background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to listen on")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--no-worker", action="store_true", help="do not start the task worker")

    def handle(self, *args: Any, **options: Any) -> None:
        # SIGTERM (a service manager's stop) unwinds like Ctrl-C, so every child is stopped, the keeper last.
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("collectstatic", interactive=False, verbosity=0)
        handover = [sys.executable, "-m", "handover"]
        children: list[subprocess.Popen[bytes]] = []
        try:
            keeper = subprocess.Popen([*handover, "vault", "keeper"])
            children.append(keeper)
            _wait_for(settings.HANDOVER_VAULT_SOCKET, keeper)
            if not options["no_worker"]:
                children.append(subprocess.Popen([*handover, "worker"]))
            host = options["addr"]
            self.stdout.write(
                f"Handover is serving on http://{host}/  (data folder {settings.DATA_DIR}); Ctrl-C stops."
            )
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *_gunicorn(host, options["workers"])]
            )
            children.append(server)
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
                child.wait()


def _gunicorn(host: str, workers: int) -> list[str]:
    return [
        "handover.wsgi",
        "--bind",
        host,
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
    ]


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the keeper's socket is there (or the keeper has exited, which is reported)."""
    while not path.exists():
        if process.poll() is not None:
            raise CommandError(
                f"The vault key keeper exited with {process.returncode}; see its message above."
            )
        time.sleep(0.05)

"""``handover serve``: the embedded deployment in one command — the vault's key keeper, gunicorn for pages
and the API, plus one background worker process for tasks (DESIGN.md decision 7). Ctrl-C stops them all.

The key keeper starts first and stops last: it holds the vault's master key in memory for every worker
(docs/vault.md), so the vault is sealed whenever serve starts and once it stops. Every child is told to use
the keeper's socket (``HANDOVER_VAULT_KEEPER=socket``: a web worker never holds a key of its own) and gets
this start's caller secret through a pipe of its own, never in its arguments or environment. serve watches
its children: a keeper that exits is restarted (sealed: the shares must be entered again), at most
``KEEPER_RESTARTS`` times in ``RESTART_WINDOW`` seconds, after which, or when gunicorn or the worker exits,
the whole server stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.vault.keeper import RemoteKeeper
from handover.vault.keeper import secret as keeper_secret

KEEPER_RESTARTS = 3
RESTART_WINDOW = 60.0
POLL_SECONDS = 0.2


class Command(BaseCommand):
    help = "Serve Handover with gunicorn and run one background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to listen on")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--no-worker", action="store_true", help="do not start the task worker")
        parser.add_argument(
            "--task-workers", type=int, default=1, help="task worker processes (each claims tasks on its own)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # SIGTERM (a service manager's stop) unwinds like Ctrl-C, so every child is stopped, the keeper last.
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("collectstatic", interactive=False, verbosity=0)
        # An operator may give the secret (to share it with a command run beside serve); else a fresh one.
        secret = keeper_secret.caller_secret() or keeper_secret.new_secret()
        env = {**os.environ, "HANDOVER_VAULT_KEEPER": "socket"}
        handover = [sys.executable, "-m", "handover"]

        def start(args: list[str]) -> subprocess.Popen[bytes]:
            return keeper_secret.start(args, secret, env)

        children: list[subprocess.Popen[bytes]] = []
        try:
            keeper = start([*handover, "vault", "keeper"])
            children.append(keeper)
            _wait_for(settings.HANDOVER_VAULT_SOCKET, keeper)
            if not options["no_worker"]:
                children.extend(start([*handover, "worker"]) for _ in range(max(1, options["task_workers"])))
            host = options["addr"]
            self.stdout.write(
                f"Handover is serving on http://{host}/  (data folder {settings.DATA_DIR}); Ctrl-C stops."
            )
            self.stdout.flush()
            children.append(start([sys.executable, "-m", "gunicorn", *_gunicorn(host, options["workers"])]))
            _watch(children, lambda: start([*handover, "vault", "keeper"]), self.stderr.write)
        except KeyboardInterrupt:
            pass
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
                child.wait()


def _watch(
    children: list[subprocess.Popen[bytes]],
    restart_keeper: Callable[[], subprocess.Popen[bytes]],
    say: Callable[[str], Any],
) -> None:
    """Until a child other than the keeper exits, or the keeper exits too often (M2: never a silent
    fallback; the keeper is restarted sealed, or everything stops)."""
    restarts: list[float] = []
    while True:
        time.sleep(POLL_SECONDS)
        keeper = children[0]
        for child in children[1:]:
            if child.poll() is not None:
                say(
                    f"A Handover process ({_name(child)}) exited with {child.returncode}: stopping the server."
                )
                return
        if keeper.poll() is None:
            continue
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < RESTART_WINDOW] + [now]
        if len(restarts) > KEEPER_RESTARTS:
            say(
                f"The vault key keeper exited with {keeper.returncode} for the {len(restarts)}th time in "
                f"{RESTART_WINDOW:.0f} s: stopping the server."
            )
            return
        children[0] = restart_keeper()
        try:
            _wait_for(settings.HANDOVER_VAULT_SOCKET, children[0])
        except CommandError as exc:
            say(f"{exc}: stopping the server.")
            return
        say(
            f"The vault key keeper exited with {keeper.returncode}; it was restarted, sealed: the vault "
            "stays sealed until enough share holders enter their shares again (vault page or "
            "`handover vault unseal`)."
        )


def _name(child: subprocess.Popen[bytes]) -> str:
    args = child.args if isinstance(child.args, list) else [str(child.args)]
    return " ".join(str(a) for a in args[2:4])


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
        # The master reads the keeper's caller secret before forking its workers.
        "--config",
        "python:handover.vault.keeper.preload",
        # L8: gunicorn 23+ opens ~/.gunicorn/gunicorn.ctl, shared by every instance of the OS user.
        "--no-control-socket",
    ]


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the keeper answers on its socket (or has exited, which is reported); a socket file left by a
    killed keeper does not count."""
    while not RemoteKeeper(path).alive():
        if process.poll() is not None:
            raise CommandError(
                f"The vault key keeper exited with {process.returncode}; see its message above."
            )
        time.sleep(0.05)

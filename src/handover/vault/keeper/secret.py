"""The keeper's per-start caller secret: who may use the master key through the socket.

The socket's mode and ``SO_PEERCRED`` admit any process of the keeper's user; the secret narrows that to the
processes ``handover serve`` started. ``serve`` makes a fresh one each start and hands it to each child
through a pipe of its own (the inherited descriptor's number is in ``HANDOVER_VAULT_KEEPER_FD``): it never
appears in a process's arguments (``ps``), in its environment (``/proc/PID/environ``), in a log or in an
exception. A keeper run alone (``handover vault keeper`` under a service manager) may take it from
``HANDOVER_VAULT_KEEPER_TOKEN`` instead, which is removed from this process's environment once read.

gunicorn's master reads it before forking (``handover.vault.keeper.preload`` is its configuration), so
every worker, including one restarted later, inherits it in memory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess

ENV_FD = "HANDOVER_VAULT_KEEPER_FD"
ENV_TOKEN = "HANDOVER_VAULT_KEEPER_TOKEN"  # noqa: S105 (the variable's name, not a secret)
MAX_SECRET = 256

_cached: str | None = None


def new_secret() -> str:
    return secrets.token_hex(32)


def caller_secret() -> str:
    """This process's copy of the secret ('' when it was given none); read once, then kept in memory."""
    global _cached
    if _cached is None:
        _cached = _read()
    return _cached


def _read() -> str:
    number = os.environ.pop(ENV_FD, "")
    if number.isdigit():
        with contextlib.suppress(OSError), os.fdopen(int(number), "rb", closefd=True) as pipe:
            return pipe.read(MAX_SECRET).decode("ascii", "replace").strip()
    return os.environ.pop(ENV_TOKEN, "").strip()


def hand_over(secret: str, env: dict[str, str]) -> tuple[dict[str, str], int]:
    """A child's environment and the pipe descriptor (to pass with ``pass_fds`` and close after the start)
    that carry ``secret`` to it; the environment names only the descriptor's number."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(secret.encode("ascii"))
    child = {key: value for key, value in env.items() if key not in (ENV_FD, ENV_TOKEN)}
    child[ENV_FD] = str(read_end)
    return child, read_end


def start(args: list[str], secret: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``args`` with ``secret`` handed over through a pipe of its own."""
    child_env, read_end = hand_over(secret, env)
    try:
        return subprocess.Popen(args, env=child_env, pass_fds=(read_end,))
    finally:
        os.close(read_end)

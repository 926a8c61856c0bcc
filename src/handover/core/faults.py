"""Named fault points: where a test (or an operator rehearsing the night) stops a process dead, to prove that a
run stopped anywhere loses nothing (issue 15's crash matrix; issue 18's kill -9 anywhere).

``point("rotation.after_change")`` does nothing unless that point is chosen: by the environment variable
``HANDOVER_FAULT`` (the process ends at once with ``os._exit(137)``, as SIGKILL would: no handler, no
``finally``, no flush), or in-process by ``armed(name)``, which raises ``Crash`` — a BaseException that no
``except Exception`` catches, so that only the database's own rollback of an open transaction runs, as after a
kill. Imports no Django and nothing of handover.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "HANDOVER_FAULT"
# ``HANDOVER_FAULT_HOLD=name=PIPE``: the first time ``point(name)`` is reached, say so on standard error and wait
# until a line is written into the named pipe PIPE — a barrier for a test in another process, with no sleep.
HOLD_ENV = "HANDOVER_FAULT_HOLD"
_armed: str | None = None
_held = False


class Crash(BaseException):
    """The process died at a named point (in-process simulation)."""


def point(name: str) -> None:
    """Die here if this point is the chosen one (or, for a test in another process, wait here once)."""
    if os.environ.get(ENV) == name:
        os._exit(137)
    if _armed == name:
        raise Crash(name)
    held, _sep, pipe = os.environ.get(HOLD_ENV, "").partition("=")
    if held == name:
        _hold(name, pipe)


def _hold(name: str, pipe: str) -> None:
    """Wait at ``name`` once per process until the test writes a line into ``pipe`` (opening a named pipe for
    reading blocks until the other side opens it for writing)."""
    global _held
    if _held:
        return
    _held = True
    sys.stderr.write(f"held at {name}\n")
    sys.stderr.flush()
    with open(pipe, encoding="utf-8") as waiting:
        waiting.readline()


@contextmanager
def armed(name: str) -> Iterator[None]:
    """Within the block, ``point(name)`` raises ``Crash`` (tests)."""
    global _armed
    before, _armed = _armed, name
    try:
        yield
    finally:
        _armed = before

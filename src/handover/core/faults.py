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
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "HANDOVER_FAULT"
_armed: str | None = None


class Crash(BaseException):
    """The process died at a named point (in-process simulation)."""


def point(name: str) -> None:
    """Die here if this point is the chosen one."""
    if os.environ.get(ENV) == name:
        os._exit(137)
    if _armed == name:
        raise Crash(name)


@contextmanager
def armed(name: str) -> Iterator[None]:
    """Within the block, ``point(name)`` raises ``Crash`` (tests)."""
    global _armed
    before, _armed = _armed, name
    try:
        yield
    finally:
        _armed = before

"""The house clock: the real time, unless a test (or the demo) has set it.

Deadlines, feedback and escalation depend on the time of day in Beijing, so every workflow service takes an
explicit ``now``; when a caller passes none, it reads this clock, which tests set with ``frozen``. It lives in
``core`` so that any app can read the same controllable time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

_fixed: list[dt.datetime] = []


def now() -> dt.datetime:
    """The current time (aware), or the time a ``frozen`` block has set."""
    return _fixed[-1] if _fixed else timezone.now()


@contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Within the block, ``now()`` answers ``at``."""
    if at.tzinfo is None:
        raise ValueError("the clock takes aware datetimes")
    _fixed.append(at)
    try:
        yield
    finally:
        _fixed.pop()


def or_now(value: dt.datetime | None) -> dt.datetime:
    """``value``, or the clock's time when none is given."""
    return value if value is not None else now()

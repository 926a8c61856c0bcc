"""A background job's many short write transactions, paced on the embedded SQLite so that the pages' writes
get the file's writer lock between them (issue 18).

SQLite lets one writer in at a time. A writer that finds the lock taken sleeps in SQLite's busy handler and
tries again, sleeping 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms between tries (the schedule of
``sqliteDefaultBusyCallback`` in SQLite's main.c). A job that begins its next transaction the moment it committed
the last one takes the lock back before a sleeping page wakes, again and again: at 300 营业部 the same-day
feedback job's thousands of one-step transactions kept pages waiting 30 s for the lock, then "database is
locked" (docs/benchmarks.md, "The handover day under load"). So every ``EVERY`` transactions the job leaves
the lock free for longer than the longest of those sleeps: a page waiting wakes inside the gap and writes.
PostgreSQL queues lock waiters in order, so nothing is paced there. Costs the job ``GAP_SECONDS`` per
``EVERY`` transactions on SQLite (at 4,000 late steps: 200 gaps, 30 s).
"""

from __future__ import annotations

import time

from django.db import connections

EVERY = 20  # transactions between two gaps
GAP_SECONDS = 0.15  # longer than SQLite's busy handler's longest sleep, 100 ms


class Pacer:
    """Call ``committed()`` after each transaction of a loop; on SQLite it leaves a gap every ``every``."""

    def __init__(self, using: str = "default", every: int = EVERY) -> None:
        self.using, self.every, self.count = using, every, 0

    def committed(self) -> bool:
        """Count one transaction; True if a gap was left after it. Never inside a transaction (the gap would
        hold the lock it is meant to free)."""
        self.count += 1
        connection = connections[self.using]
        if self.count % self.every or connection.vendor != "sqlite" or connection.in_atomic_block:
            return False
        time.sleep(GAP_SECONDS)
        return True

"""Limits a process puts on itself: the background worker's memory (DESIGN.md decision 10)."""

from __future__ import annotations

import resource


def memory_limit_apply(*, megabytes: int) -> int | None:
    """Limit this process's address space (RLIMIT_AS) to ``megabytes`` MiB, or leave it when 0; a lower
    limit already set (by the service manager) is kept. Past it, Python raises MemoryError, which an import
    job turns into a failed job with a message. Returns the limit in bytes, or None."""
    if megabytes <= 0:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = megabytes << 20
    for current in (soft, hard):
        if current != resource.RLIM_INFINITY:
            limit = min(limit, current)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit

"""Ordered, bounded fan-out to worker processes.

Two processes beat one for many small files, and threads lose to the GIL (DESIGN.md), so work goes to a
process pool in batches (many small files, or one big file alone). At most ``2 × jobs`` batches are in
flight, so memory stays flat however big the tree; results come back in submission order, so manifests
stream out in walk order. With ``jobs == 1`` everything runs in this process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from handover.fixity._types import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult, Pool
    from typing import Any, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")

BATCH_FILES = 64
BATCH_BYTES = 32 << 20


def batches(items: Iterable[T], size_of: Callable[[T], int]) -> Iterator[list[T]]:
    """Groups of up to ``BATCH_FILES`` items or about ``BATCH_BYTES`` bytes; a big file goes alone."""
    batch: list[T] = []
    weight = 0
    for item in items:
        size = size_of(item)
        if batch and (len(batch) >= BATCH_FILES or weight + size > BATCH_BYTES):
            yield batch
            batch, weight = [], 0
        batch.append(item)
        weight += size
    if batch:
        yield batch


class Workers:
    """The worker processes (or, with ``jobs <= 1``, this process) set up by ``initializer``; started when
    made, so that a caller can fork them before it loads something big that they do not need (a fork
    shares the parent's memory, and the pages count in every child's RSS)."""

    def __init__(self, jobs: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self.jobs = jobs
        self.pool: Pool | None = None
        if jobs > 1:
            import multiprocessing  # here: a run in one process does not pay for its import

            self.pool = multiprocessing.get_context().Pool(jobs, initializer=initializer, initargs=initargs)
        else:
            initializer(*initargs)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def map(self, work: Callable[[list[T]], R], groups: Iterable[list[T]]) -> Iterator[tuple[list[T], R]]:
        """(batch, result) pairs in submission order, at most ``2 × jobs`` batches in flight."""
        if self.pool is None:
            for group in groups:
                yield group, work(group)
            return
        pending: deque[tuple[list[T], AsyncResult[R]]] = deque()
        for group in groups:
            pending.append((group, self.pool.apply_async(work, (group,))))
            if len(pending) >= 2 * self.jobs:
                done, result = pending.popleft()
                yield done, result.get()
        while pending:
            done, result = pending.popleft()
            yield done, result.get()


def ordered_map(
    work: Callable[[list[T]], list[R]],
    groups: Iterable[list[T]],
    *,
    jobs: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
) -> Iterator[tuple[list[T], list[R]]]:
    """(batch, results) pairs in order; the pool is torn down if the consumer stops early or fails."""
    with Workers(jobs, initializer, initargs) as workers:
        yield from workers.map(work, groups)

"""Ordered, bounded fan-out to worker processes.

Two processes beat one for many small files, and threads lose to the GIL (DESIGN.md), so work goes to a
process pool in batches (many small files, or one big file alone). At most ``2 × jobs`` batches are in
flight, so memory stays flat however big the tree; results come back in submission order, so manifests
stream out in walk order. With ``jobs == 1`` everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.pool import AsyncResult
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


def ordered_map(
    work: Callable[[list[T]], list[R]],
    groups: Iterable[list[T]],
    *,
    jobs: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
) -> Iterator[tuple[list[T], list[R]]]:
    """(batch, results) pairs in order; the pool is torn down if the consumer stops early or fails."""
    if jobs <= 1:
        initializer(*initargs)
        for group in groups:
            yield group, work(group)
        return
    with multiprocessing.get_context().Pool(jobs, initializer=initializer, initargs=initargs) as pool:
        pending: deque[tuple[list[T], AsyncResult[list[R]]]] = deque()
        for group in groups:
            pending.append((group, pool.apply_async(work, (group,))))
            if len(pending) >= 2 * jobs:
                done, result = pending.popleft()
                yield done, result.get()
        while pending:
            done, result = pending.popleft()
            yield done, result.get()

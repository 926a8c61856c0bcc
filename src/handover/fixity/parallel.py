"""Ordered, bounded fan-out to worker processes.

Two processes beat one for many small files, and threads lose to the GIL (DESIGN.md), so work goes to
forked worker processes in batches (many small files, or one big file alone). At most ``2 × jobs`` batches are in
flight, so memory stays flat however big the tree; results come back in submission order, so manifests
stream out in walk order. With ``jobs == 1`` everything runs in this process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from handover.fixity._types import TYPE_CHECKING

if TYPE_CHECKING:
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
    shares the parent's memory, and the pages count in every child's RSS).

    Each worker is a plain forked child with a pipe in and a pipe out, fed round robin: batch ``i`` goes to
    worker ``i % jobs``, so answers are read back in submission order. ``multiprocessing.Pool`` did the same
    with three threads and an import that cost 15–30 ms, a tenth of a verify of 5,000 small files
    (docs/benchmarks.md). A worker ignores Ctrl-C (the parent stops them) and leaves with ``os._exit``.
    """

    def __init__(self, jobs: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self.jobs = jobs
        self.children: list[_Child] = []
        if jobs > 1:
            try:
                for _ in range(jobs):
                    self.children.append(_Child.fork(initializer, initargs, self.children))
            except BaseException:
                self._stop()
                raise
        else:
            initializer(*initargs)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        for child in self.children:
            child.stop()
        self.children = []

    def map(self, work: Callable[[list[T]], R], groups: Iterable[list[T]]) -> Iterator[tuple[list[T], R]]:
        """(batch, result) pairs in submission order, at most ``2 × jobs`` batches in flight."""
        if not self.children:
            for group in groups:
                yield group, work(group)
            return
        pending: deque[tuple[list[T], _Child]] = deque()
        for number, group in enumerate(groups):
            child = self.children[number % self.jobs]
            child.send((work, group))
            pending.append((group, child))
            if len(pending) >= 2 * self.jobs:
                done, answering = pending.popleft()
                yield done, answering.receive()
        while pending:
            done, answering = pending.popleft()
            yield done, answering.receive()


_LENGTH = struct.Struct("<Q")


class _Child:
    """One forked worker: tasks ``(function, batch)`` in, ``(ok, result or error text)`` out, pickled."""

    def __init__(self, pid: int, tasks: int, answers: int) -> None:
        self.pid, self.tasks, self.answers = pid, tasks, answers

    @classmethod
    def fork(
        cls, initializer: Callable[..., None], initargs: tuple[Any, ...], siblings: list[_Child]
    ) -> _Child:
        task_read, task_write = os.pipe()
        answer_read, answer_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                for fd in (task_write, answer_read, *(f for c in siblings for f in (c.tasks, c.answers))):
                    os.close(fd)  # a sibling's ends held here would hide its death from the parent
                initializer(*initargs)
                _serve(task_read, answer_write)
                code = 0
            finally:
                os._exit(code)
        os.close(task_read)
        os.close(answer_write)
        return cls(pid, task_write, answer_read)

    def send(self, task: tuple[Callable[..., Any], Any]) -> None:
        _write_message(self.tasks, pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL))

    def receive(self) -> Any:
        message = _read_message(self.answers)
        if message is None:
            raise RuntimeError(f"worker process {self.pid} ended without an answer (killed?)")
        ok, value = pickle.loads(message)  # noqa: S301 (from our own forked child)
        if not ok:
            raise RuntimeError(f"worker process {self.pid} failed: {value}")
        return value

    def stop(self) -> None:
        for fd in (self.tasks, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _serve(tasks: int, answers: int) -> None:
    """The worker's loop, until the parent closes its end of the task pipe."""
    while (message := _read_message(tasks)) is not None:
        work, group = pickle.loads(message)  # noqa: S301 (from the parent that forked us)
        try:
            answer = (True, work(group))
        except Exception as exc:  # handed to the parent, which raises it there
            answer = (False, f"{type(exc).__name__}: {exc}")
        _write_message(answers, pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


def _write_message(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_message(fd: int) -> bytes | None:
    """One message; None at the end of the pipe (before or inside a message)."""
    head = _read_exactly(fd, _LENGTH.size)
    return None if head is None else _read_exactly(fd, _LENGTH.unpack(head)[0])


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


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

"""Ordered, bounded fan-out to worker processes.

Two processes beat one for many small files, and threads lose to the GIL (DESIGN.md), so work goes to
worker processes in batches (many small files, or one big file alone). At most ``2 × jobs`` batches are in
flight, so memory stays flat however big the tree; results come back in submission order, so manifests
stream out in walk order. With ``jobs == 1`` everything runs in this process.

Where ``fork`` is the way (Linux and the BSDs) the workers are plain forked children, each with a pipe in
and a pipe out, and batches travel as ``marshal`` data (paths, sizes, digests: what the engine sends).
``multiprocessing.Pool`` did the same with three threads, pickling, and an import (pickle, socket,
subprocess, tempfile, shutil, lzma...) that was a fifth of the ``handover-agent verify`` of 5,000 small files
(docs/benchmarks.md). Elsewhere (Windows; macOS, where Python itself stopped forking by default) the Pool of
the platform's default start method does it.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from handover.fixity._types import TYPE_CHECKING
from handover.fixity.errors import FixityError

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult, Pool
    from typing import Any, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")

BATCH_FILES = 64
BATCH_BYTES = 32 << 20
# Forked workers where Python's multiprocessing would fork too (3.11-3.13: all but Windows and macOS).
FORK = hasattr(os, "fork") and sys.platform != "darwin"


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


class WorkerFailed(FixityError):
    """A worker process died, or its work raised something that could not be sent back as it was (the CLI
    prints the message and exits 2, as for any run that could not be done)."""


class Workers:
    """The worker processes (or, with ``jobs <= 1``, this process) set up by ``initializer``; started when
    made, so that a caller can fork them before it loads something big that they do not need (a fork
    shares the parent's memory, and the pages count in every child's RSS)."""

    def __init__(self, jobs: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self.jobs = jobs
        self.pool: Pool | None = None
        self.children: list[_Child] = []
        if jobs <= 1:
            initializer(*initargs)
        elif FORK:
            try:
                for _ in range(jobs):
                    self.children.append(_Child.fork(initializer, initargs, self.children))
            except BaseException:
                self._stop()
                raise
        else:
            import multiprocessing  # here: only where there is no fork to use

            self.pool = multiprocessing.get_context().Pool(jobs, initializer=initializer, initargs=initargs)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
        for child in self.children:  # all told first, then all reaped: they end at the same time
            child.stop()
        for child in self.children:
            _quietly(os.waitpid, child.pid, 0)
        self.children = []

    def map(self, work: Callable[[list[T]], R], groups: Iterable[list[T]]) -> Iterator[tuple[list[T], R]]:
        """(batch, result) pairs in submission order, at most ``2 × jobs`` batches in flight."""
        if self.children:
            yield from self._map_forked(work, groups)
        elif self.pool is not None:
            yield from self._map_pool(work, groups)
        else:
            for group in groups:
                yield group, work(group)

    def _map_pool(
        self, work: Callable[[list[T]], R], groups: Iterable[list[T]]
    ) -> Iterator[tuple[list[T], R]]:
        assert self.pool is not None
        pending: deque[tuple[list[T], AsyncResult[R]]] = deque()
        for group in groups:
            pending.append((group, self.pool.apply_async(work, (group,))))
            if len(pending) >= 2 * self.jobs:
                done, result = pending.popleft()
                yield done, result.get()
        while pending:
            done, result = pending.popleft()
            yield done, result.get()

    def _map_forked(
        self, work: Callable[[list[T]], R], groups: Iterable[list[T]]
    ) -> Iterator[tuple[list[T], R]]:
        """Each batch goes to the worker with the fewest batches unanswered, so a worker the machine holds
        back (two cores shared with other work) gets less, as it would take less from a shared queue."""
        import select

        name = (work.__module__, work.__qualname__)
        children = self.children
        pending: deque[tuple[list[T], _Child]] = deque()
        for group in groups:
            if all(child.waiting() for child in children):  # take the answers ready, to know who is free
                ready, _, _ = select.select([child.answers for child in children], [], [], 0)
                for child in children:
                    if child.answers in ready:
                        child.backlog.append(child.read())
            child = min(children, key=_Child.waiting)
            child.send(name, group)
            pending.append((group, child))
            if len(pending) >= 2 * self.jobs:
                done, answering = pending.popleft()
                yield done, answering.receive()
        while pending:
            done, answering = pending.popleft()
            yield done, answering.receive()


class _Child:
    """One forked worker: ``(module, function, batch)`` in, ``(ok, result)`` out; each message is its length
    (8 bytes) and ``marshal`` data, or pickle for what marshal cannot carry (check-readable's jobs)."""

    def __init__(self, pid: int, tasks: int, answers: int) -> None:
        self.pid, self.tasks, self.answers = pid, tasks, answers
        self.sent = 0
        self.answered = 0
        # Answers read off the pipe before the parent asked for them (see ``_map_forked`` and ``send``).
        self.backlog: deque[Any] = deque()
        os.set_blocking(tasks, False)

    def waiting(self) -> int:
        """Batches sent whose answers have not been read yet."""
        return self.sent - self.answered

    @classmethod
    def fork(
        cls, initializer: Callable[..., None], initargs: tuple[Any, ...], siblings: list[_Child]
    ) -> _Child:
        task_read, task_write = os.pipe()
        answer_read, answer_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: serve, then leave without the parent's exit handlers or buffered output
            code = 1
            try:
                import signal

                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us
                for fd in (task_write, answer_read, *(f for c in siblings for f in (c.tasks, c.answers))):
                    os.close(fd)  # a sibling's ends held here would hide its death from the parent
                _serve(task_read, answer_write, initializer, initargs)
                code = 0
            finally:
                os._exit(code)
        os.close(task_read)
        os.close(answer_write)
        return cls(pid, task_write, answer_read)

    def send(self, name: tuple[str, str], group: list[Any]) -> None:
        """Writes the task; while the pipe is full, reads this worker's answers (it may be blocked writing
        one, bigger than its pipe, and would never read the task: each would wait for the other)."""
        view = memoryview(_encode((name, group)))
        try:
            while view:
                try:
                    view = view[os.write(self.tasks, view) :]
                except BlockingIOError:
                    self._wait_writable()
        except BrokenPipeError:
            raise WorkerFailed(f"worker process {self.pid} ended (killed?)") from None
        self.sent += 1

    def _wait_writable(self) -> None:
        import select

        readable, _, _ = select.select([self.answers], [self.tasks], [])
        if readable:
            self.backlog.append(self.read())

    def read(self) -> Any:
        """The next answer off the pipe."""
        message = _read_message(self.answers)
        if message is None:
            raise WorkerFailed(f"worker process {self.pid} ended without an answer (killed?)")
        self.answered += 1
        return message

    def receive(self) -> Any:
        """The oldest answer not yet taken, as a value; its exception raised here if it failed."""
        message = self.backlog.popleft() if self.backlog else self.read()
        ok, value = message
        if not ok:
            raise _failure(self.pid, value)
        return value

    def stop(self) -> None:
        """Closes the pipes: a worker with nothing left to answer leaves at once; one still working (the run
        was interrupted or failed) is terminated, as it may be hashing a big file that no one will read."""
        for fd in (self.tasks, self.answers):
            _quietly(os.close, fd)
        if self.waiting():
            import signal

            _quietly(os.kill, self.pid, signal.SIGTERM)


def _quietly(call: Callable[..., object], *args: int) -> None:
    """``call(*args)``, an OSError (closed or gone already) ignored."""
    try:  # noqa: SIM105 (contextlib.suppress would do, but nothing else of a verify imports contextlib)
        call(*args)
    except OSError:
        pass


def _serve(tasks: int, answers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """The worker's loop, until the parent closes its end of the task pipe. A failure (of the set-up or of
    a batch) is the answer, so that the parent raises it instead of waiting."""
    failed: BaseException | None = None
    try:
        initializer(*initargs)
    except Exception as exc:  # given back as the answer to every batch
        failed = exc
    functions: dict[tuple[str, str], Callable[[Any], Any]] = {}
    while (message := _read_message(tasks)) is not None:
        name, group = message
        try:
            if failed is not None:
                raise failed
            if (work := functions.get(name)) is None:
                work = functions[name] = _resolve(*name)
            answer = (True, work(group))
        except Exception as exc:
            answer = (False, _exported(exc))
        _write_message(answers, answer)


def _resolve(module: str, qualname: str) -> Callable[[Any], Any]:
    found: Any = sys.modules[module]  # imported: the parent ran it before it forked us
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _exported(exc: Exception) -> tuple[str, bytes]:
    """The exception, pickled if it can be (a FixityError reaches the CLI as itself), else its text."""
    import pickle

    try:
        return ("pickle", pickle.dumps(exc))
    except Exception:  # an exception holding something unpicklable
        return ("text", f"{type(exc).__name__}: {exc}".encode(errors="replace"))


def _failure(pid: int, value: tuple[str, bytes]) -> BaseException:
    how, data = value
    if how == "pickle":
        import pickle

        try:
            return pickle.loads(data)  # noqa: S301 (from our own forked child)
        except Exception:  # noqa: S110 (then the text below)
            pass
    return WorkerFailed(f"worker process {pid} failed: {data.decode(errors='replace')}")


_MARSHAL, _PICKLE = b"M", b"P"


def _encode(value: Any) -> bytes:
    try:
        data = _MARSHAL + marshal.dumps(value)
    except ValueError:  # an object marshal does not know
        import pickle

        data = _PICKLE + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(8, "little") + data


def _write_message(fd: int, value: Any) -> None:
    view = memoryview(_encode(value))
    while view:
        view = view[os.write(fd, view) :]


def _read_message(fd: int) -> Any:
    """One message; None at the end of the pipe (before or inside a message)."""
    head = _read_exactly(fd, 8)
    data = None if head is None else _read_exactly(fd, int.from_bytes(head, "little"))
    if data is None:
        return None
    if data[:1] == _MARSHAL:
        return marshal.loads(memoryview(data)[1:])  # noqa: S302 (from this process or its forked child)
    import pickle

    return pickle.loads(memoryview(data)[1:])  # noqa: S301 (between this process and its forked child)


def _read_exactly(fd: int, size: int) -> bytes | None:
    first = os.read(fd, size)
    if len(first) == size or not first:
        return first if first else None
    chunks, left = [first], size - len(first)
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

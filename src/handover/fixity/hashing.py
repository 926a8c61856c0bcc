"""Hashing at the speed of the disk: reused page-aligned buffers, ``readinto``, optional throttling.

SHA-256 and SM3 come from hashlib (OpenSSL, which releases the GIL); BLAKE3 from the ``blake3`` package.
A big file is read ahead: a thread fills one buffer while the other is hashed, so the copy out of the page
cache overlaps the hashing. A huge file (``MAP_FILE`` and up, when no rate limit applies) is not copied at
all: it is mapped and hashed in a child process forked for it, with BLAKE3 on every core there. The copy
was two fifths of the CPU that BLAKE3 spent on a 2 GiB file (docs/benchmarks.md). The child is what makes
mapping safe: a mapped file truncated while it is hashed kills its reader with SIGBUS, and a field run must
report that file, not die; so only the child dies and the file is reported. BLAKE3's threads (rayon) start
only in those children, never in a process that forks later (rayon does not survive a fork). A file whose
size or mtime changes while it is read raises ``UnstableFile``.
"""

from __future__ import annotations

import functools
import mmap
import os
import stat
import sys
import time
from collections.abc import Callable

from handover.fixity._types import TYPE_CHECKING
from handover.fixity.errors import FixityError

ALGORITHMS = ("sha256", "sm3", "blake3")
BUFFER_SIZE = 1 << 20
# From this size a file is read ahead; 4 MiB chunks stay in the CPU's cache.
BIG_FILE = 16 << 20
BIG_BUFFER_SIZE = 4 << 20
# From this size a file is mapped in a child process: the fork (about a millisecond) is then well under 1 %
# of the hashing. It is mapped a window at a time, so a file bigger than the memory is no trouble.
MAP_FILE = 128 << 20
MAP_WINDOW = 256 << 20
_CAN_MAP = hasattr(os, "fork") and hasattr(mmap, "MAP_SHARED")
# O_NONBLOCK: a FIFO put where a file was must not hang the run; it is refused after the open.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


if TYPE_CHECKING:
    from typing import Any, Protocol

    class Hasher(Protocol):
        def update(self, data: Any, /) -> object: ...

        def digest(self) -> bytes: ...

        def hexdigest(self) -> str: ...


class UnstableFile(OSError):
    """The file changed (size or mtime) while it was being read."""


def hasher_factory(algo: str, *, all_cores: bool = False) -> Callable[[], Hasher]:
    """Makes fresh hashers; resolved once, since ``hashlib.new`` looks the name up on every call. BLAKE3
    gets every core with ``all_cores``: only in a process that will never fork (see the module's doc)."""
    # Each algorithm's module is imported when asked for: a BLAKE3 run does not load OpenSSL (2 ms of a
    # start-up that counts on a laptop checking one file), a SHA-256 run does not load BLAKE3.
    if algo == "blake3":
        import blake3

        return functools.partial(blake3.blake3, max_threads=blake3.blake3.AUTO if all_cores else 1)
    if algo not in ALGORITHMS:
        raise FixityError(f"unknown algorithm {algo!r}: choose one of {', '.join(ALGORITHMS)}")
    import hashlib

    factory: Callable[[], Hasher] = getattr(hashlib, algo, None) or functools.partial(hashlib.new, algo)
    try:
        factory()
    except ValueError as exc:
        raise FixityError(f"this Python's OpenSSL has no {algo}: {exc}") from exc
    return factory


if hasattr(os, "readv"):

    def read_into(fd: int, buf: memoryview) -> int:
        """One read straight into ``buf`` (no file object to build per file); 0 at the end."""
        return os.readv(fd, (buf,))

else:  # Windows has no readv

    def read_into(fd: int, buf: memoryview) -> int:
        data = os.read(fd, len(buf))
        buf[: len(data)] = data
        return len(data)


class Throttle:
    """Keeps one process's read rate under ``bytes_per_second`` (None: no limit) by sleeping."""

    def __init__(self, bytes_per_second: float | None) -> None:
        self.rate = bytes_per_second
        self.start = time.monotonic()
        self.done = 0

    def consume(self, n: int) -> None:
        if not self.rate:
            return
        self.done += n
        ahead = self.done / self.rate - (time.monotonic() - self.start)
        if ahead > 0.001:
            time.sleep(ahead)


class FileHasher:
    """Hashes files with buffers allocated once per process (anonymous mmap: page-aligned); huge files in a
    child process that maps them (see the module's doc)."""

    def __init__(self, algo: str, *, throttle: Throttle | None = None) -> None:
        self._new = hasher_factory(algo)
        self._new_mapped = hasher_factory(algo, all_cores=True)
        self.algo = algo
        self.throttle = throttle or Throttle(None)
        self._small = memoryview(mmap.mmap(-1, BUFFER_SIZE))
        self._big: tuple[memoryview, memoryview] | None = None

    def hash_file(self, path: bytes | str) -> tuple[str, int, int]:
        """(hex digest, size, mtime_ns) of a regular file; OSError when it cannot be read to the end."""
        digest, size, mtime_ns = self.digest_file(path)
        return digest.hex(), size, mtime_ns

    def digest_file(self, path: bytes | str, *, expect_size: int = -1) -> tuple[bytes, int, int]:
        """(raw digest, size, mtime_ns) of a regular file; OSError when it cannot be read to the end.

        With ``expect_size`` (0 or more), a file of another size is not read: its digest comes back empty."""
        fd = os.open(path, _OPEN_FLAGS)
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise OSError(f"not a regular file ({_kind(before.st_mode)})")
            if expect_size >= 0 and before.st_size != expect_size:
                return b"", before.st_size, before.st_mtime_ns
            if before.st_size >= MAP_FILE and _CAN_MAP and not self.throttle.rate:
                digest, total = hash_mapped(fd, before.st_size, self._new_mapped), before.st_size
            elif before.st_size >= BIG_FILE:
                hasher = self._new()
                total = self._read_ahead(fd, hasher)
                digest = hasher.digest()
            else:
                hasher = self._new()
                total = self._read(fd, hasher, before.st_size)
                digest = hasher.digest()
            after = os.fstat(fd)
        finally:
            os.close(fd)
        if total != before.st_size or after.st_size != total or after.st_mtime_ns != before.st_mtime_ns:
            raise UnstableFile(f"file changed while being read ({before.st_size} → {after.st_size} bytes)")
        return digest, total, before.st_mtime_ns

    def _read(self, fd: int, hasher: Hasher, size: int) -> int:
        """Reads to ``size``, without the extra read that would find the end: had the file grown since,
        the ``fstat`` after the read would tell."""
        buf, total, throttle = self._small, 0, self.throttle
        while n := read_into(fd, buf):
            hasher.update(buf[:n])
            total += n
            throttle.consume(n)
            if total == size:
                break
        return total

    def _read_ahead(self, fd: int, hasher: Hasher) -> int:
        """Two buffers: the next chunk is read in a thread (the GIL is released) while this one is hashed."""
        # Imported here: concurrent.futures (and the logging it loads) was a tenth of the agent's start-up.
        from concurrent.futures import ThreadPoolExecutor

        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        if self._big is None:
            self._big = (
                memoryview(mmap.mmap(-1, BIG_BUFFER_SIZE)),
                memoryview(mmap.mmap(-1, BIG_BUFFER_SIZE)),
            )
        buffers, total, throttle = self._big, 0, self.throttle
        with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reader:
            pending = reader.submit(read_into, fd, buffers[0])
            current = 0
            while n := pending.result():
                pending = reader.submit(read_into, fd, buffers[1 - current])
                hasher.update(buffers[current][:n])
                total += n
                throttle.consume(n)
                current = 1 - current
        return total


def hash_mapped(fd: int, size: int, new: Callable[[], Hasher]) -> bytes:
    """The digest of the first ``size`` bytes of ``fd``, mapped and hashed in a forked child; UnstableFile
    when the child dies of SIGBUS (the file shrank under the mapping), OSError for any other failure."""
    import signal  # here: only a huge file needs it, and its enums are half a millisecond of every start

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: hash, answer on the pipe, leave without running the parent's exit handlers
        os.close(read_end)
        _quiet_fault_handler()
        code = 0
        try:
            answer = b"D" + _digest_windows(fd, size, new())
        except BaseException as exc:  # any failure goes back to the parent as a message
            answer, code = b"E" + str(exc).encode(errors="replace")[:500], 1
        os.write(write_end, answer)
        os._exit(code)
    os.close(write_end)
    try:
        answer = _read_all(read_end)
        status = os.waitpid(pid, 0)[1]
    except BaseException:  # interrupted: take the child down with us
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_end)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGBUS:
        raise UnstableFile("file changed while being read (it shrank under the reader)")
    if not answer.startswith(b"D") or status != 0:
        reason = answer[1:].decode(errors="replace") or f"the reading process ended with status {status}"
        raise OSError(reason)
    return answer[1:]


def _quiet_fault_handler() -> None:
    """A SIGBUS here is an answer (the file shrank), not a crash: faulthandler (pytest turns it on, so can
    ``python -X faulthandler``) would print a "Fatal Python error" traceback for it."""
    handler = sys.modules.get("faulthandler")
    if handler is not None and handler.is_enabled():
        handler.disable()


def map_window(fd: int, offset: int, length: int) -> mmap.mmap:
    """One read-only window of the file, its pages mapped at once (fewer faults than page by page)."""
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    return mmap.mmap(fd, length, flags=flags, prot=mmap.PROT_READ, offset=offset)


def _digest_windows(fd: int, size: int, hasher: Hasher) -> bytes:
    for offset in range(0, size, MAP_WINDOW):
        with map_window(fd, offset, min(MAP_WINDOW, size - offset)) as window:
            hasher.update(window)
    return hasher.digest()


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 1024):
        parts.append(chunk)
    return b"".join(parts)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def describe_error(exc: OSError) -> str:
    """One line for a report: the OS's words without the path (the report carries the path)."""
    if exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})" if exc.errno else exc.strerror
    return str(exc)

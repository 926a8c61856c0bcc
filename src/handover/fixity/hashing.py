"""Hashing at the speed of the disk: reused page-aligned buffers, ``readinto``, optional throttling.

SHA-256 and SM3 come from hashlib (OpenSSL, which releases the GIL); BLAKE3 from the ``blake3`` package,
multithreaded for big files in pool workers (see ``FileHasher``). A big file is read ahead: a thread fills
one buffer while the other is hashed, so the copy out of the page cache overlaps the hashing
(docs/benchmarks.md). Files are read, never mapped: a mapped file that is truncated while it is hashed
kills the process with SIGBUS, and a field run must report that file, not die. A file whose size or mtime
changes while it is read raises ``UnstableFile``.
"""

from __future__ import annotations

import functools
import hashlib
import mmap
import os
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import blake3

from handover.fixity.errors import FixityError

ALGORITHMS = ("sha256", "sm3", "blake3")
BUFFER_SIZE = 1 << 20
# From this size a file is read ahead (and BLAKE3 gets all cores); 4 MiB chunks stay in the CPU's cache.
BIG_FILE = 16 << 20
BIG_BUFFER_SIZE = 4 << 20
# O_NONBLOCK: a FIFO put where a file was must not hang the run; it is refused after the open.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class Hasher(Protocol):
    def update(self, data: Any, /) -> object: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


class UnstableFile(OSError):
    """The file changed (size or mtime) while it was being read."""


def hasher_factory(algo: str, *, big: bool = False) -> Callable[[], Hasher]:
    """Makes fresh hashers; resolved once, since ``hashlib.new`` looks the name up on every call. BLAKE3
    gets all cores for ``big`` files (worth splitting)."""
    if algo == "blake3":
        return functools.partial(blake3.blake3, max_threads=blake3.blake3.AUTO if big else 1)
    if algo not in ALGORITHMS:
        raise FixityError(f"unknown algorithm {algo!r}: choose one of {', '.join(ALGORITHMS)}")
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
    """Hashes files with buffers allocated once per process (anonymous mmap: page-aligned).

    ``all_cores`` lets BLAKE3 split big files over every core. Only for a process that will not fork:
    BLAKE3's thread pool (rayon) does not survive a fork, and a child forked after the parent used it hangs
    on its first multithreaded hash. So pool workers pass True; a run hashing in its own process does not.
    """

    def __init__(self, algo: str, *, throttle: Throttle | None = None, all_cores: bool = False) -> None:
        self._new_small = hasher_factory(algo)
        self._new_big = hasher_factory(algo, big=all_cores)
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
            if before.st_size >= BIG_FILE:
                hasher = self._new_big()
                total = self._read_ahead(fd, hasher)
            else:
                hasher = self._new_small()
                total = self._read(fd, hasher, before.st_size)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        if total != before.st_size or after.st_size != total or after.st_mtime_ns != before.st_mtime_ns:
            raise UnstableFile(f"file changed while being read ({before.st_size} → {after.st_size} bytes)")
        return hasher.digest(), total, before.st_mtime_ns

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

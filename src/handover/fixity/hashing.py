"""Hashing at the speed of the disk: one reused page-aligned buffer, ``readinto``, optional throttling.

SHA-256 and SM3 come from hashlib (OpenSSL, which releases the GIL); BLAKE3 from the ``blake3`` package,
multithreaded for big files. A file whose size or mtime changes while it is read raises ``UnstableFile``.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import time
from typing import Any, Protocol

import blake3

from handover.fixity.errors import FixityError

ALGORITHMS = ("sha256", "sm3", "blake3")
BUFFER_SIZE = 1 << 20
BLAKE3_BIG_FILE = 16 << 20
BLAKE3_BUFFER_SIZE = 16 << 20


class Hasher(Protocol):
    def update(self, data: Any, /) -> object: ...

    def hexdigest(self) -> str: ...


class UnstableFile(OSError):
    """The file changed (size or mtime) while it was being read."""


def new_hasher(algo: str, *, size: int = 0) -> Hasher:
    """A fresh hasher; BLAKE3 gets all cores for files big enough to be worth splitting."""
    if algo == "blake3":
        threads = blake3.blake3.AUTO if size >= BLAKE3_BIG_FILE else 1
        return blake3.blake3(max_threads=threads)
    if algo not in ALGORITHMS:
        raise FixityError(f"unknown algorithm {algo!r}: choose one of {', '.join(ALGORITHMS)}")
    try:
        return hashlib.new(algo)
    except ValueError as exc:
        raise FixityError(f"this Python's OpenSSL has no {algo}: {exc}") from exc


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
    """Hashes files with buffers allocated once per process (anonymous mmap: page-aligned)."""

    def __init__(self, algo: str, *, throttle: Throttle | None = None) -> None:
        new_hasher(algo)
        self.algo = algo
        self.throttle = throttle or Throttle(None)
        self._small = memoryview(mmap.mmap(-1, BUFFER_SIZE))
        self._big: memoryview | None = None

    def _buffer(self, size: int) -> memoryview:
        if self.algo == "blake3" and size >= BLAKE3_BIG_FILE:
            if self._big is None:
                self._big = memoryview(mmap.mmap(-1, BLAKE3_BUFFER_SIZE))
            return self._big
        return self._small

    def hash_file(self, path: bytes | str) -> tuple[str, int, int]:
        """(hex digest, size, mtime_ns) of a regular file; OSError when it cannot be read to the end."""
        # O_NONBLOCK: a FIFO put where a file was must not hang the run; it is refused just below.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise OSError(f"not a regular file ({_kind(before.st_mode)})")
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            hasher = new_hasher(self.algo, size=before.st_size)
            buf = self._buffer(before.st_size)
            total = 0
            with open(fd, "rb", buffering=0, closefd=False) as raw:
                while n := raw.readinto(buf):
                    hasher.update(buf[:n])
                    total += n
                    self.throttle.consume(n)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        if total != before.st_size or after.st_size != total or after.st_mtime_ns != before.st_mtime_ns:
            raise UnstableFile(f"file changed while being read ({before.st_size} → {after.st_size} bytes)")
        return hasher.hexdigest(), total, before.st_mtime_ns


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

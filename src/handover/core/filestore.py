"""Content-addressed file stores: a folder of files each named by its SHA-256 (``ab/abcdef…``).

One implementation for every store (register attachments, workflow evidence). A file is streamed into a
temporary file in the store's own folder and hashed while it is written, refused past the size limit its
caller gives, synced, and only then renamed to its digest's name: the rename is atomic (same file system),
so a crash or a refusal never leaves a half file under a digest, and two uploads of the same content at
once both end with the one complete file. Storing the same content again is harmless and repairs a stored
copy that was damaged. Opening checks the file against its digest first and names the file that no
longer matches.

What a store accepts (types, emptiness, secrets) and how large a file may be are the caller's rules: the
caller checks a file while it is still pending, before it gets its name. This module is standard library
only (no Django), so the offline package verifier hashes with the same ``file_digest``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, NamedTuple

CHUNK = 1 << 20
TEMP_PREFIX = ".upload-"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class FileStoreError(Exception):
    """A stored file cannot be given out; the caller turns it into a refusal a person can act on."""


class TooLarge(FileStoreError):
    """The stream passed the caller's size limit; nothing of it was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class Missing(FileStoreError):
    """No file is stored under the digest."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} is missing")
        self.path = path


class Changed(FileStoreError):
    """The file stored under the digest no longer has that digest (damaged or altered after storing)."""

    def __init__(self, path: Path, found: str) -> None:
        super().__init__(f"{path} no longer matches its SHA-256 (it now hashes to {found})")
        self.path = path
        self.found = found


class Digest(NamedTuple):
    hexdigest: str
    size: int


def file_digest(handle: IO[bytes], algorithm: str = "sha256") -> Digest:
    """The digest and byte count of a stream from where it stands to its end, read in 1 MiB pieces."""
    hasher, size = hashlib.new(algorithm), 0
    while chunk := handle.read(CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return Digest(hasher.hexdigest(), size)


def read_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """A binary stream as the pieces a store receives."""
    while chunk := stream.read(CHUNK):
        yield chunk


@dataclass(frozen=True)
class Stored:
    """A file in the store under its digest."""

    sha256: str
    size: int
    path: Path


class Pending:
    """A received file under its temporary name: check ``path``, then ``commit``; leaving the ``with``
    block without committing (a refusal) removes it."""

    def __init__(self, store: FileStore, temp: Path, sha256: str, size: int) -> None:
        self.store, self.path, self.sha256, self.size = store, temp, sha256, size
        self._done = False

    def commit(self) -> Stored:
        """Rename the file to its digest's name (atomic; replacing a copy of the same content, or a damaged
        one, with this complete one)."""
        final = self.store.path(self.sha256)
        try:
            final.parent.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise _full_or(exc) from None
        os.replace(self.path, final)
        self._done = True
        _sync_folder(final.parent)
        return Stored(self.sha256, self.size, final)

    def discard(self) -> None:
        if not self._done:
            self.path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> Pending:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.discard()


class FileStore:
    """The files below ``folder``, each at ``folder/<first two hex digits>/<SHA-256>``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def path(self, sha256: str) -> Path:
        """Where the file with this digest is kept (a digest only: never a path from outside)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
        return self.folder / sha256[:2] / sha256

    def receive(self, chunks: Iterable[bytes], *, limit: int | None) -> Pending:
        """Write ``chunks`` to a temporary file in the store, hashing them; ``TooLarge`` (and nothing left
        behind) once more than ``limit`` bytes came."""
        hasher, size = hashlib.sha256(), 0
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.folder, prefix=TEMP_PREFIX)
        except OSError as exc:
            raise _full_or(exc) from None
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLarge(limit)
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())  # the content is on disk before it gets its name
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if (refused := _full_or(exc)) is not exc:
                raise refused from exc
            raise
        return Pending(self, temp, hasher.hexdigest(), size)

    def put(self, chunks: Iterable[bytes], *, limit: int | None) -> Stored:
        """Receive and commit, for a store whose caller checks nothing of the content."""
        with self.receive(chunks, limit=limit) as pending:
            return pending.commit()

    def open(self, sha256: str) -> BinaryIO:
        """The stored file, read from its start, after checking it still has this digest."""
        path = self.path(sha256)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise Missing(path) from None
        found = file_digest(handle).hexdigest
        if found != sha256:
            handle.close()
            raise Changed(path, found)
        handle.seek(0)
        return handle


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry), where the platform allows opening a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _full_or(exc: BaseException) -> BaseException:
    """A full disk as the faces' refusal (core.errors.StorageFull), anything else as it is. Imported here, not
    at the top: core.errors uses Django's translations, and this module stays standard library only for the
    offline package verifier."""
    from handover.core.errors import StorageFull, disk_full

    return StorageFull(field="file") if disk_full(exc) else exc

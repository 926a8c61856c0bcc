"""Walking a tree iteratively with ``os.scandir``: memory holds one directory listing per level, not the tree.

Paths are bytes relative to the root, joined with ``/``, so that names that are not UTF-8 survive. Entries
come in a stable order (byte order within each directory, files before subdirectories), which makes
manifests of the same tree identical. Symbolic links to files are followed; links to directories are not
(no loops, no file counted twice) and are yielded as ``dirlink`` so that callers can mention them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from handover.fixity._types import Record

FILE = "file"
DIR = "dir"
DIRLINK = "dirlink"
SPECIAL = "special"
BROKEN = "broken"
ERROR = "error"


class Entry(Record):
    """One thing found under the root; ``error`` says why it could not be looked at, if it could not.

    Not frozen: the walk makes one per file."""

    __slots__ = ("error", "kind", "mtime_ns", "relpath", "size")

    def __init__(self, relpath: bytes, kind: str, size: int = 0, mtime_ns: int = 0, error: str = "") -> None:
        self.relpath, self.kind, self.size, self.mtime_ns, self.error = relpath, kind, size, mtime_ns, error


def _classify(entry: os.DirEntry[bytes], rel: bytes) -> Entry:
    try:
        st = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        return Entry(rel, BROKEN, error="dangling symbolic link")
    except OSError as exc:
        return Entry(rel, ERROR, error=exc.strerror or str(exc))
    if stat.S_ISREG(st.st_mode):
        return Entry(rel, FILE, st.st_size, st.st_mtime_ns)
    if stat.S_ISDIR(st.st_mode):
        return Entry(rel, DIRLINK if entry.is_symlink() else DIR, 0, st.st_mtime_ns)
    return Entry(rel, SPECIAL, error=_special_name(st.st_mode))


def _special_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file (a device)"


def walk(
    root: bytes | str, *, exclude: frozenset[bytes] = frozenset(), sizes: bool = True
) -> Iterator[Entry]:
    """Every entry under ``root`` (directories too, before their contents); ``exclude`` holds relpaths.

    With ``sizes=False``, a regular file that the directory listing already names as one (no link) comes
    with size and mtime -1 and is not stat-ed: for callers that stat it anyway when they open it. That call
    was a fifth of the work per small file of a verify (docs/benchmarks.md)."""
    base = os.fsencode(root)
    pending: list[bytes] = [b""]
    while pending:
        rel_dir = pending.pop()
        try:
            with os.scandir(os.path.join(base, rel_dir) if rel_dir else base) as it:
                listing = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Entry(rel_dir, ERROR, error=exc.strerror or str(exc))
            continue
        subdirs: list[bytes] = []
        for entry in listing:
            rel = rel_dir + b"/" + entry.name if rel_dir else entry.name
            if rel in exclude:
                continue
            if not sizes and entry.is_file(follow_symlinks=False):
                yield Entry(rel, FILE, -1, -1)
                continue
            found = _classify(entry, rel)
            if found.kind == DIR:
                subdirs.append(rel)
            else:
                yield found
        for rel in subdirs:
            yield Entry(rel, DIR)
        pending.extend(reversed(subdirs))

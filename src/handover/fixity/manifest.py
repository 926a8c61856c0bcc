"""The manifest: a text file whose digest lines ``sha256sum -c`` reads as they are.

``b3sum -c`` (1.2) refuses the ``#`` lines ("Short line"): give it ``grep -av '^#' MANIFEST``.

Layout (docs/fixity.md has the full description)::

    # handover-fixity-manifest 1
    # algorithm: sha256
    # root: /srv/backup
    # created: 2026-10-08T09:30:00.123456789Z
    # host: branch-laptop-7
    # tool: handover-agent 0.1.0
    #: 1234 1728349323.123456789
    9f86d081...  counter/20241008/trade.dbf
    # end: 1 files, 1234 bytes

Each file is a ``#:`` line (size in bytes, mtime in seconds since the epoch to the nanosecond) followed by its
digest line. Checksum tools skip ``#`` lines. Names holding a backslash, a newline or a carriage return
are escaped as GNU coreutils does (the line starts with ``\\``; ``\\\\``, ``\\n``, ``\\r`` inside the name).
Names are bytes: anything but NUL passes. The ``end`` line shows that the manifest was not cut short.
"""

from __future__ import annotations

import binascii
import io
import itertools
import re
import struct
from collections.abc import Iterator
from datetime import UTC, datetime

from handover.fixity._types import TYPE_CHECKING, Record
from handover.fixity.errors import ManifestError
from handover.fixity.hashing import ALGORITHMS

if TYPE_CHECKING:
    from typing import IO

MAGIC = b"# handover-fixity-manifest 1"
_DIGEST_LINE = re.compile(rb"^(\\?)([0-9a-fA-F]{64}) [ *](.*)$", re.DOTALL)
_META_LINE = re.compile(rb"^#: (\d+) (-?\d+)\.(\d{9})$")
_END_LINE = re.compile(rb"^# end: (\d+) files, (\d+) bytes$")
_PACK = struct.Struct("<qq")
# One entry exactly as ManifestWriter writes it, for ``load``'s fast path; anything else goes the long way.
_WRITTEN_ENTRY = re.compile(rb"#: (\d+) (-?\d+)\.(\d{9})\n([0-9a-f]{64})  ([^\n\r\\]+)\n")
_CHUNK = 1 << 20
_LONGEST_ENTRY = 64 << 10


class ManifestEntry(Record):
    """One file of a manifest; ``size`` and ``mtime_ns`` are -1 when the manifest did not say."""

    __slots__ = ("digest", "mtime_ns", "path", "size")

    def __init__(self, path: bytes, digest: str, size: int = -1, mtime_ns: int = -1) -> None:
        self.path, self.digest, self.size, self.mtime_ns = path, digest, size, mtime_ns


class Header(Record):
    """What the manifest says about itself; ``created_ns`` is the scan's start, the seal time."""

    __slots__ = ("algorithm", "created_ns", "extra", "host", "native", "root", "tool")

    def __init__(
        self,
        algorithm: str = "sha256",
        root: bytes = b"",
        created_ns: int = 0,
        host: str = "",
        tool: str = "",
        native: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.algorithm, self.root, self.created_ns, self.host, self.tool = (
            algorithm,
            root,
            created_ns,
            host,
            tool,
        )
        self.native = native
        self.extra = {} if extra is None else extra


def escape_name(name: bytes) -> tuple[bytes, bytes]:
    """(prefix, escaped name) by GNU's convention: prefix ``\\`` when anything had to be escaped."""
    if b"\\" not in name and b"\n" not in name and b"\r" not in name:
        return b"", name
    return b"\\", name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")


def unescape_name(text: bytes, *, line: int | None = None) -> bytes:
    """The inverse of ``escape_name`` for an escaped name; any other escape is an error."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i : i + 1]
        if char != b"\\":
            out += char
            i += 1
            continue
        pair = text[i : i + 2]
        if pair not in (b"\\\\", b"\\n", b"\\r"):
            raise ManifestError(f"bad escape {pair!r} in a file name", line=line)
        out += {b"\\\\": b"\\", b"\\n": b"\n", b"\\r": b"\r"}[pair]
        i += 2
    return bytes(out)


def format_ns(ns: int) -> str:
    """An instant as ISO 8601 UTC with nanoseconds."""
    stamp = datetime.fromtimestamp(ns // 10**9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns % 10**9:09d}Z"


def parse_ns(text: str) -> int:
    """The inverse of ``format_ns`` (fewer fraction digits are accepted)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", text.strip())
    if not match:
        raise ManifestError(f"bad time {text!r}: expected e.g. 2026-10-08T09:30:00.000000000Z")
    try:  # fromisoformat, not strptime: the shape is checked above, and _strptime costs the agent's start-up
        seconds = int(datetime.fromisoformat(match[1]).replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise ManifestError(f"bad time {text!r}: no such date or time of day") from None
    return seconds * 10**9 + int((match[2] or "0").ljust(9, "0"))


def _mtime_text(ns: int) -> bytes:
    return b"%d.%09d" % (ns // 10**9, ns % 10**9)


class ManifestWriter:
    """Streams a manifest out: header, then entries as they come, then the ``end`` line."""

    def __init__(self, out: IO[bytes], header: Header) -> None:
        self.out = out
        self.files = 0
        self.bytes = 0
        prefix, root = escape_name(header.root)
        lines = [
            MAGIC,
            b"# algorithm: " + header.algorithm.encode(),
            b"# root: " + prefix + root,
            b"# created: " + format_ns(header.created_ns).encode(),
            b"# host: " + header.host.encode("utf-8", "backslashreplace"),
            b"# tool: " + header.tool.encode("utf-8", "backslashreplace"),
            b"# Each file: '#: <size> <mtime>' then '<digest>  <path>' as sha256sum writes it (docs/fixity.md).",
        ]
        out.write(b"\n".join(lines) + b"\n")

    def write(self, entry: ManifestEntry) -> None:
        if entry.size >= 0:
            self.out.write(entry_lines(entry.path, entry.digest.encode(), entry.size, entry.mtime_ns))
            self.bytes += entry.size
        else:
            prefix, name = escape_name(entry.path)
            self.out.write(prefix + entry.digest.encode() + b"  " + name + b"\n")
        self.files += 1

    def write_hashed(self, path: bytes, digest: bytes, size: int, mtime_ns: int) -> None:
        """One file as the engine hashed it (``digest`` raw), without making a ManifestEntry for it."""
        self.out.write(entry_lines(path, binascii.hexlify(digest), size, mtime_ns))
        self.files += 1
        self.bytes += size

    def finish(self) -> None:
        self.out.write(b"# end: %d files, %d bytes\n" % (self.files, self.bytes))


def entry_lines(path: bytes, hex_digest: bytes, size: int, mtime_ns: int) -> bytes:
    """The two lines of one file, as a manifest and a resume journal hold them."""
    prefix, name = escape_name(path)
    return b"#: %d %s\n%s%s  %s\n" % (size, _mtime_text(mtime_ns), prefix, hex_digest, name)


class ManifestReader:
    """Reads a manifest as a stream of entries; ``header`` is filled before the first entry.

    Plain ``sha256sum`` output (no header) is accepted too, with ``algorithm`` as given. A native manifest
    without its ``end`` line, or whose ``end`` line disagrees with what was read, raises ``ManifestError``;
    with ``lenient`` (journals), a torn last line is dropped instead.
    """

    def __init__(self, source: IO[bytes], *, algorithm: str = "sha256", lenient: bool = False) -> None:
        self.source = source
        self.lenient = lenient
        self.header = Header(algorithm=algorithm)
        self._lines = self._numbered()
        self._pending: tuple[int, bytes] | None = None
        self._read_header()

    def _numbered(self) -> Iterator[tuple[int, bytes]]:
        for number, raw in enumerate(self.source, start=1):
            if not raw.endswith(b"\n"):
                if self.lenient:
                    return
                raise ManifestError("the last line is cut short: the manifest is incomplete", line=number)
            yield number, raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]

    def _read_header(self) -> None:
        for number, line in self._lines:
            if not line.startswith(b"# ") or _END_LINE.match(line):
                self._pending = (number, line)
                return
            if line == MAGIC:
                self.header.native = True
                continue
            key, sep, value = line[2:].partition(b": ")
            if sep and b" " not in key:
                self._set_header(key.decode("ascii", "replace"), value, number)

    def _set_header(self, key: str, value: bytes, number: int) -> None:
        text = value.decode("utf-8", "replace")
        if key == "algorithm":
            if text not in ALGORITHMS:
                raise ManifestError(f"unknown algorithm {text!r}", line=number)
            self.header.algorithm = text
        elif key == "root":
            self.header.root = unescape_name(value[1:], line=number) if value.startswith(b"\\") else value
        elif key == "created":
            self.header.created_ns = parse_ns(text)
        elif key in ("host", "tool"):
            setattr(self.header, key, text)
        else:
            self.header.extra[key] = text

    def __iter__(self) -> Iterator[ManifestEntry]:
        meta: tuple[int, int] | None = None
        files = total = 0
        lines = self._lines if self._pending is None else itertools.chain((self._pending,), self._lines)
        ended = False
        for number, line in lines:
            if ended:
                raise ManifestError("text after the end line", line=number)
            # Only '#' lines can be end or meta lines: one test spares digest lines two regex calls.
            if line[:1] == b"#":
                if end := _END_LINE.match(line):
                    if (int(end[1]), int(end[2])) != (files, total):
                        raise ManifestError(
                            f"the end line says {int(end[1])} files, {int(end[2])} bytes; read {files}, {total}"
                        )
                    ended = True
                elif meta_match := _META_LINE.match(line):
                    meta = (int(meta_match[1]), int(meta_match[2]) * 10**9 + int(meta_match[3]))
            elif not line.strip():
                continue
            else:
                entry = self._entry(line, number, meta)
                meta = None
                files += 1
                total += max(entry.size, 0)
                yield entry
        if self.header.native and not ended and not self.lenient:
            raise ManifestError("no end line: the manifest is incomplete (cut short in copying?)")

    def _entry(self, line: bytes, number: int, meta: tuple[int, int] | None) -> ManifestEntry:
        match = _DIGEST_LINE.match(line)
        if not match:
            raise ManifestError("expected '<digest>  <path>'", line=number)
        name = unescape_name(match[3], line=number) if match[1] else match[3]
        while name.startswith(b"./"):  # `find . -exec sha256sum {} +` names every file ./x: x to the root
            name = name[2:]
        if not name:
            raise ManifestError("empty file name", line=number)
        size, mtime = meta if meta else (-1, -1)
        return ManifestEntry(name, match[2].decode().lower(), size, mtime)


def pack(entry: ManifestEntry) -> bytes:
    """A compact value for in-memory tables: 16 bytes of size and mtime, then the raw digest."""
    return _PACK.pack(entry.size, entry.mtime_ns) + bytes.fromhex(entry.digest)


def unpack(path: bytes, value: bytes) -> ManifestEntry:
    size, mtime = _PACK.unpack_from(value)
    return ManifestEntry(path, value[16:].hex(), size, mtime)


def packed_fields(value: bytes) -> tuple[int, int, bytes]:
    """(size, mtime_ns, raw digest) of a ``pack`` value, without building an entry (verify's hot path)."""
    size, mtime = _PACK.unpack_from(value)
    return size, mtime, value[_PACK.size :]


def read_header(path: str | bytes, *, algorithm: str = "sha256") -> Header:
    """Only the header: what a run needs to know before it loads the table."""
    try:
        with open(path, "rb") as source:
            return ManifestReader(source, algorithm=algorithm).header
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path!r}: {exc.strerror or exc}") from exc


def load(
    path: str | bytes, *, algorithm: str = "sha256", lenient: bool = False
) -> tuple[Header, dict[bytes, bytes]]:
    """The whole manifest as a table path → packed entry (this is the only thing that grows with the tree)."""
    try:
        with open(path, "rb") as source:
            if not lenient and (fast := _load_as_written(source)) is not None:
                return fast
            source.seek(0)
            return _load_read(source, algorithm=algorithm, lenient=lenient)
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path!r}: {exc.strerror or exc}") from exc


def _load_read(source: IO[bytes], *, algorithm: str, lenient: bool) -> tuple[Header, dict[bytes, bytes]]:
    table: dict[bytes, bytes] = {}
    reader = ManifestReader(source, algorithm=algorithm, lenient=lenient)
    for entry in reader:
        if entry.path in table and not lenient:
            raise ManifestError(f"{entry.path!r} is listed twice")
        table[entry.path] = pack(entry)
    return reader.header, table


def _load_as_written(source: IO[bytes]) -> tuple[Header, dict[bytes, bytes]] | None:
    """A manifest exactly as ManifestWriter writes it, twice as fast as line by line (one regex per
    entry, in 1 MiB chunks). None at the first thing that is not so (an escaped name, a comment, a
    duplicate, a bad end...): the caller then reads it line by line, which says what is wrong and where."""
    buf = source.read(_CHUNK)
    body = buf.find(b"\n#: ") + 1
    head = buf[:body].splitlines()
    if not body or not head or head[0] != MAGIC or not all(line.startswith(b"# ") for line in head):
        return None
    header = ManifestReader(io.BytesIO(buf[:body])).header
    table: dict[bytes, bytes] = {}
    files = total = 0
    pos, match, pack_meta, unhex = body, _WRITTEN_ENTRY.match, _PACK.pack, binascii.unhexlify
    while True:
        found = match(buf, pos)
        if found is None:
            if len(buf) - pos > _LONGEST_ENTRY or not (more := source.read(_CHUNK)):
                break
            buf, pos = buf[pos:] + more, 0
            continue
        size_text, seconds, fraction, digest, name = found.groups()
        if name in table:
            return None
        size = int(size_text)
        table[name] = pack_meta(size, int(seconds) * 10**9 + int(fraction)) + unhex(digest)
        files += 1
        total += size
        pos = found.end()
    if buf[pos:] != b"# end: %d files, %d bytes\n" % (files, total) or source.read(1):
        return None
    return header, table

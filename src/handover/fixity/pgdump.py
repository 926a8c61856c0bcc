"""PostgreSQL custom-format dumps (``pg_dump -Fc``): header, table of contents, and every data block.

The layout follows PostgreSQL's pg_backup_archiver.c (ReadHead, ReadToc) and pg_backup_custom.c for
archive versions 1.12 to 1.16 (PostgreSQL 11 to 17). Integers are a sign byte and ``intSize`` bytes,
little-endian; strings are an integer length (negative: NULL) and bytes. After the TOC come the data
blocks: a type byte, the dump id, then chunks (length, bytes) ending with a zero length; gzip-compressed
data is inflated to prove that it reads.

The reader takes what ``pg_restore -l`` refuses as damage, and reads numbers as it does: into a C ``int``,
any non-zero sign byte meaning negative, so that ``01 | 01 00 ff ff`` is the length 65535 to both (the
interop review, 2026-12, found three broken tables of contents that pg_restore refused and this passed).
Beyond its integer reading pg_restore refuses a dump id that is not positive, an offset flag it does not
know, a TABLE DATA entry whose table is not a dump id of the archive, and an ENCODING or STDSTRINGS entry it
cannot parse; so does this reader. It is stricter in one place: a section code outside 1–4, which no pg_dump
writes, is damage here although ``pg_restore -l`` lists it. tests/fixity/test_pgdump_real.py flips bytes of real dumps
and holds the two to the same verdict.
"""

from __future__ import annotations

import zlib
from typing import IO

MIN_VERSION = (1, 12)
MAX_VERSION = (1, 16)
BLOCK_DATA, BLOCK_BLOBS = 1, 3
OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA = 1, 2, 3
SECTIONS = range(1, 5)  # none, pre-data, data, post-data
_INT32 = 1 << 32


class DumpError(Exception):
    """The dump does not read as pg_dump wrote it."""


class _Reader:
    def __init__(self, raw: IO[bytes], size: int) -> None:
        self.raw = raw
        self.size = size
        self.int_size = 4
        self.off_size = 8

    def take(self, n: int) -> bytes:
        if self.raw.tell() + n > self.size:  # checked first: a damaged length must not allocate 2 GiB
            raise DumpError(
                f"cut short at byte {self.size} (a length of {n} bytes at byte {self.raw.tell()})"
            )
        data = self.raw.read(n)
        if len(data) != n:
            raise DumpError(f"cut short at byte {self.raw.tell()}")
        return data

    def byte(self) -> int:
        return self.take(1)[0]

    def integer(self) -> int:
        """As pg_restore's ReadInt: the bytes summed into a C int (wrapping), negated by any non-zero sign."""
        sign = self.byte()
        value = int.from_bytes(self.take(self.int_size), "little") % _INT32
        value = -value if sign else value
        value %= _INT32
        return value - _INT32 if value >= _INT32 // 2 else value

    def string(self) -> bytes | None:
        length = self.integer()
        return None if length < 0 else self.take(length)

    def offset(self) -> tuple[int, int]:
        flag = self.byte()
        if flag not in (OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA):
            raise DumpError(f"unexpected data offset flag {flag} at byte {self.raw.tell() - 1}")
        return flag, int.from_bytes(self.take(self.off_size), "little")


def check_pgdump(path: bytes, size: int) -> tuple[list[str], dict[str, object]]:
    """(reasons, facts): facts name the database, pg_dump's version and the TOC size when they could be read."""
    facts: dict[str, object] = {}
    with open(path, "rb") as raw:
        reader = _Reader(raw, size)
        try:
            version, compressed = _header(reader, facts)
            offsets = _toc(reader, version, facts)
            _data_blocks(reader, compressed, facts)
        except DumpError as exc:
            return [f"pg_dump archive: {exc}"], facts
    beyond = [dump_id for dump_id, offset in offsets if offset >= size]
    if beyond:
        return [f"TOC points past the end of the file for entries {beyond[:5]}"], facts
    return [], facts


def _header(reader: _Reader, facts: dict[str, object]) -> tuple[tuple[int, int], bool]:
    if reader.take(5) != b"PGDMP":
        raise DumpError("no PGDMP magic")
    major, minor, revision = reader.byte(), reader.byte(), reader.byte()
    version = (major, minor)
    facts["archive_version"] = f"{major}.{minor}"
    if not MIN_VERSION <= version <= MAX_VERSION or revision != 0:  # every version pg_dump writes is x.y.0
        raise DumpError(
            f"archive version {major}.{minor}.{revision} is not one this agent reads (1.12.0 to 1.16.0)"
        )
    reader.int_size, reader.off_size = reader.byte(), reader.byte()
    if (reader.int_size, reader.off_size) != (4, 8):  # every pg_dump of versions 11 to 17 writes these
        raise DumpError(f"integer and offset sizes {reader.int_size} and {reader.off_size}, not 4 and 8")
    if reader.byte() != 1:
        raise DumpError("not the custom format (-Fc)")
    compression = reader.byte() if version >= (1, 15) else reader.integer()
    # gzip data is inflated to prove it reads; lz4 and zstd (1.15+) are checked for structure only.
    compressed = compression == 1 if version >= (1, 15) else compression != 0
    facts["compression"] = {0: "none", 1: "gzip", 2: "lz4", 3: "zstd"}.get(compression, "gzip")
    for _ in range(7):
        reader.integer()
    facts["database"] = (reader.string() or b"").decode("utf-8", "replace")
    reader.string()
    facts["pg_dump"] = (reader.string() or b"").decode("utf-8", "replace")
    return version, compressed


def _toc(reader: _Reader, version: tuple[int, int], facts: dict[str, object]) -> list[tuple[int, int]]:
    count = reader.integer()
    if count < 0:
        raise DumpError(f"negative TOC count {count}")
    facts["toc_entries"] = count
    offsets: list[tuple[int, int]] = []
    table_data: list[tuple[int, int]] = []  # (entry, the table it fills)
    ids: set[int] = set()
    for _ in range(count):
        at = reader.raw.tell()
        dump_id, desc, dependencies, (flag, offset) = _entry(reader, version, at)
        ids.add(dump_id)
        if desc == b"TABLE DATA" and dependencies:
            table_data.append((dump_id, dependencies[0]))
        if flag == OFFSET_SET:
            offsets.append((dump_id, offset))
    for dump_id, table in table_data:  # pg_restore's buildTocEntryArrays
        if not 0 < table <= max(ids):
            raise DumpError(f"TABLE DATA entry {dump_id} fills table {table}, not a dump id of this archive")
    return offsets


def _entry(
    reader: _Reader, version: tuple[int, int], at: int
) -> tuple[int, bytes | None, list[int], tuple[int, int]]:
    """One TOC entry as pg_restore's ReadToc reads it: (dump id, desc, dependencies, data offset)."""
    dump_id = reader.integer()
    if dump_id <= 0:
        raise DumpError(f"TOC entry at byte {at}: dump id {dump_id} out of range")
    reader.integer()  # hadDumper
    reader.string(), reader.string()  # tableoid, oid
    _tag, desc = reader.string(), reader.string()
    section = reader.integer()
    if section not in SECTIONS:
        raise DumpError(f"TOC entry {dump_id}: unexpected section code {section}")
    # defn, dropStmt, copyStmt, namespace, tablespace, and from 1.14 tableam
    strings = [reader.string() for _ in range(6 if version >= (1, 14) else 5)]
    _settings(dump_id, desc, strings[0] or b"")
    if version >= (1, 16):
        reader.integer()  # relkind
    reader.string(), reader.string()  # owner, "false" (WITH OIDS)
    dependencies: list[int] = []
    while (dependency := reader.string()) is not None:
        dependencies.append(int(dependency) if dependency.isdigit() else 0)  # C strtoul: 0 if no digits
    return dump_id, desc, dependencies, reader.offset()


def _settings(dump_id: int, desc: bytes | None, defn: bytes) -> None:
    """The ENCODING and STDSTRINGS entries, which pg_restore parses before it lists anything."""
    defn = defn.split(b"\0", 1)[0]  # a C string to pg_restore
    quoted = defn.split(b"'")
    if desc == b"ENCODING" and (len(quoted) < 3 or _encoding_key(quoted[1]) not in _ENCODINGS):
        raise DumpError(f"TOC entry {dump_id}: invalid ENCODING item {defn[:60]!r}")
    if desc == b"STDSTRINGS" and not (len(quoted) >= 3 and quoted[1] in (b"on", b"off")):
        raise DumpError(f"TOC entry {dump_id}: invalid STDSTRINGS item {defn[:60]!r}")


def _encoding_key(name: bytes) -> bytes:
    """As PostgreSQL's clean_encoding_name: letters and digits only, lower case."""
    return bytes(c for c in name.lower() if chr(c).isascii() and chr(c).isalnum())


# The names and aliases PostgreSQL's pg_char_to_encoding knows (src/common/encnames.c), cleaned.
_ENCODINGS = frozenset(
    b"""abc alt big5 euccn eucjis2004 eucjp euckr euctw gb18030 gbk iso88591 iso885910 iso885913
    iso885914 iso885915 iso885916 iso88592 iso88593 iso88594 iso88595 iso88596 iso88597 iso88598
    iso88599 johab koi8 koi8r koi8u latin1 latin10 latin2 latin3 latin4 latin5 latin6 latin7 latin8
    latin9 mskanji muleinternal shiftjis shiftjis2004 sjis sqlascii tcvn tcvn5712 uhc unicode utf8
    vscii win win1250 win1251 win1252 win1253 win1254 win1255 win1256 win1257 win1258 win866 win874
    win932 win936 win949 win950 windows1250 windows1251 windows1252 windows1253 windows1254
    windows1255 windows1256 windows1257 windows1258 windows866 windows874 windows932 windows936
    windows949 windows950""".split()
)


def _data_blocks(reader: _Reader, compressed: bool, facts: dict[str, object]) -> None:
    blocks = 0
    while first := reader.raw.read(1):
        if first[0] not in (BLOCK_DATA, BLOCK_BLOBS):
            raise DumpError(f"unknown block type {first[0]} at byte {reader.raw.tell() - 1}")
        reader.integer()  # dump id
        if first[0] == BLOCK_BLOBS:
            while reader.integer() != 0:  # each large object: oid, then its chunks
                _chunks(reader, compressed)
        else:
            _chunks(reader, compressed)
        blocks += 1
    facts["data_blocks"] = blocks


def _chunks(reader: _Reader, compressed: bool) -> None:
    inflater = zlib.decompressobj() if compressed else None
    while (length := reader.integer()) != 0:
        if length < 0:
            raise DumpError(f"negative chunk length at byte {reader.raw.tell()}")
        data = reader.take(length)
        if inflater is not None:
            try:
                inflater.decompress(data)
            except zlib.error as exc:
                raise DumpError(f"compressed data does not inflate: {exc}") from exc
    if inflater is not None and not inflater.eof:
        raise DumpError("compressed data ends before its end marker")

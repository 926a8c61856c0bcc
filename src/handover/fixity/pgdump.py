"""PostgreSQL custom-format dumps (``pg_dump -Fc``): header, table of contents, and every data block.

The layout follows PostgreSQL's pg_backup_archiver.c (ReadHead, ReadToc) and pg_backup_custom.c for
archive versions 1.12 to 1.16 (PostgreSQL 11 to 17). Integers are a sign byte and ``intSize`` bytes,
little-endian; strings are an integer length (negative: NULL) and bytes. After the TOC come the data
blocks: a type byte, the dump id, then chunks (length, bytes) ending with a zero length; gzip-compressed
data is inflated to prove that it reads.
"""

from __future__ import annotations

import zlib
from typing import IO

MIN_VERSION = (1, 12)
MAX_VERSION = (1, 16)
BLOCK_DATA, BLOCK_BLOBS = 1, 3
OFFSET_SET = 2


class DumpError(Exception):
    """The dump does not read as pg_dump wrote it."""


class _Reader:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.int_size = 4
        self.off_size = 8

    def take(self, n: int) -> bytes:
        data = self.raw.read(n)
        if len(data) != n:
            raise DumpError(f"cut short at byte {self.raw.tell()}")
        return data

    def byte(self) -> int:
        return self.take(1)[0]

    def integer(self) -> int:
        sign = self.byte()
        value = int.from_bytes(self.take(self.int_size), "little")
        return -value if sign else value

    def string(self) -> bytes | None:
        length = self.integer()
        return None if length < 0 else self.take(length)

    def offset(self) -> tuple[int, int]:
        flag = self.byte()
        return flag, int.from_bytes(self.take(self.off_size), "little")


def check_pgdump(path: bytes, size: int) -> tuple[list[str], dict[str, object]]:
    """(reasons, facts): facts name the database, pg_dump's version and the TOC size when they could be read."""
    facts: dict[str, object] = {}
    with open(path, "rb") as raw:
        reader = _Reader(raw)
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
    major, minor, _revision = reader.byte(), reader.byte(), reader.byte()
    version = (major, minor)
    facts["archive_version"] = f"{major}.{minor}"
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise DumpError(f"archive version {major}.{minor} is not one this agent reads (1.12 to 1.16)")
    reader.int_size, reader.off_size = reader.byte(), reader.byte()
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
    for _ in range(count):
        dump_id = reader.integer()
        reader.integer()  # hadDumper
        for _ in range(2):  # tableoid, oid
            reader.string()
        for _ in range(2):  # tag, desc
            reader.string()
        reader.integer()  # section
        for _ in range(
            6 if version >= (1, 14) else 5
        ):  # defn, dropStmt, copyStmt, namespace, tablespace, tableam
            reader.string()
        if version >= (1, 16):
            reader.integer()  # relkind
        for _ in range(2):  # owner, "false" (WITH OIDS)
            reader.string()
        while reader.string() is not None:  # dependencies
            pass
        flag, offset = reader.offset()
        if flag == OFFSET_SET:
            offsets.append((dump_id, offset))
    return offsets


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

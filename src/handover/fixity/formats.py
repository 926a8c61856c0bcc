"""Readability checks by real type: each checker reads a file to the end and returns what is wrong with it.

A checker returns a list of reasons (empty: the file reads). Types are detected from content in
``readable.detect``; the checkers here know nothing about names.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import os
import re
import sqlite3
import struct
import tarfile
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

CHUNK = 1 << 20
MAX_REASONS = 5
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
)


def _drain(stream: IO[bytes]) -> None:
    while stream.read(CHUNK):
        pass


def _limited(reasons: list[str]) -> list[str]:
    if len(reasons) <= MAX_REASONS:
        return reasons
    return [*reasons[:MAX_REASONS], f"... and {len(reasons) - MAX_REASONS} more"]


def check_zip(path: bytes) -> list[str]:
    """Every member read to its end, which checks its CRC-32; all bad members are named."""
    reasons: list[str] = []
    try:
        with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
            for info in archive.infolist():
                try:
                    with archive.open(info) as member:
                        _drain(member)
                except (RuntimeError, NotImplementedError, *_ARCHIVE_ERRORS) as exc:
                    reasons.append(f"member {info.filename}: {exc}")
    except _ARCHIVE_ERRORS as exc:
        reasons.append(f"not a readable zip: {exc}")
    return _limited(reasons)


_OPENERS: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}


def check_compressed(path: bytes, codec: str, *, tar: bool) -> list[str]:
    """Decompressed to the end (truncation and CRC); a tar inside is walked member by member first."""
    try:
        with _OPENERS[codec](path, "rb") as stream:
            if tar:
                reasons = _walk_tar(stream)
                if reasons:
                    return reasons
            _drain(stream)
    except _ARCHIVE_ERRORS as exc:
        return [f"{codec} stream: {exc or type(exc).__name__}"]
    return []


def check_tar(path: bytes, size: int) -> list[str]:
    """Members read to their end; the archive must end with its two zero blocks."""
    with open(path, "rb") as raw:
        reasons = _walk_tar(raw)
        if reasons:
            return reasons
        raw.seek(max(size - 1024, 0))
        tail = raw.read(1024)
    if size % 512 or tail.strip(b"\0"):
        return ["no end-of-archive blocks: the tar is cut short"]
    return []


def _walk_tar(stream: IO[bytes]) -> list[str]:
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    _drain(extracted)
    except _ARCHIVE_ERRORS as exc:
        return [f"tar: {exc or type(exc).__name__}"]
    return []


def check_sqlite(path: bytes, size: int) -> list[str]:
    """The header's page count against the size, then ``PRAGMA integrity_check`` read-only, never writing."""
    with open(path, "rb") as raw:
        head = raw.read(100)
    if len(head) < 100:  # the magic is there, the rest of the header is not (found by the fuzzer, issue 18)
        return [f"the header is cut short: {len(head)} of its 100 bytes"]
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages, valid_for, counter = (struct.unpack(">I", head[o : o + 4])[0] for o in (28, 92, 24))
    if page_size and pages and valid_for == counter and pages * page_size > size:
        return [
            f"header says {pages} pages of {page_size} bytes, the file holds {size // page_size}: cut short"
        ]
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro&immutable=1"
    try:
        with sqlite3.connect(uri, uri=True) as conn:
            rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        conn.close()
    except sqlite3.Error as exc:
        return [f"sqlite: {exc}"]
    except (
        UnicodeDecodeError
    ):  # SQLite's error message quoted damaged bytes; sqlite3 cannot decode it (fuzzer)
        return ["sqlite: the database is damaged (its error message is not text)"]
    return [] if rows == ["ok"] else _limited([f"integrity_check: {row}" for row in rows])


def check_text(path: bytes, *, as_csv: bool) -> list[str]:
    """Decodes as UTF-8, else GB18030 (all of GBK and more); a CSV keeps the header's field count on every row."""
    encoding = _text_encoding(path)
    if encoding is None:
        return ["not text: neither UTF-8 nor GB18030 (GBK), or NUL bytes"]
    if not as_csv:
        return []
    with open(path, encoding=encoding, newline="") as text:
        first = text.readline()
        delimiter = max(",\t|;", key=first.count)
        text.seek(0)
        reasons: list[str] = []
        width = 0
        reader = csv.reader(text, delimiter=delimiter)
        try:
            for row in reader:
                if not row:
                    continue
                width = width or len(row)
                if len(row) != width:
                    reasons.append(f"line {reader.line_num}: {len(row)} fields, the header has {width}")
        except csv.Error as exc:
            reasons.append(f"line {reader.line_num}: {exc}")
    return _limited(reasons)


def _text_encoding(path: bytes) -> str | None:
    for encoding in ("utf-8", "gb18030"):  # GB18030: the national standard, a superset of GBK
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as raw:
                while chunk := raw.read(CHUNK):
                    if b"\0" in chunk:
                        return None
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    return None


# DBF (dBase III and its kin, as the exchanges' clearing and reconciliation files are written).
_NUMERIC = rb"(?=[- +.0-9eE*\x00]{%d})[\s\S]{%d}"
# An empty date is spaces, zeros or NULs: SZSE's SJSXX.DBF writes b"       0" (interop review §2; dbfread: NULL).
_FIELD_PATTERNS: dict[str, bytes] = {"D": rb"(?:[0-9]{8}|[ 0\x00]{8})", "L": rb"[ ?YyNnTtFf\x00]"}
# The language driver byte (header offset 29) of dBase and FoxPro, as codec names; 0 says nothing.
_CODE_PAGES = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x04: "mac_roman", 0x57: "cp1252", 0x58: "cp1252",
    0x59: "cp1252", 0x64: "cp852", 0x65: "cp866", 0x66: "cp865", 0x67: "cp861", 0x6A: "cp737",
    0x6B: "cp857", 0x78: "cp950", 0x79: "cp949", 0x7A: "gb18030", 0x7B: "cp932", 0x7C: "cp874",
    0x7D: "cp1255", 0x7E: "cp1256", 0x4D: "gb18030", 0x4E: "cp949", 0x4F: "cp950", 0x50: "cp874",
    0xC8: "cp1250", 0xC9: "cp1251", 0xCA: "cp1254", 0xCB: "cp1253", 0xCC: "cp1257",
    0xF0: "utf-8",  # not dBase's: what the Python dbf package writes for UTF-8
}  # fmt: skip
_DEFAULT_ENCODINGS = (
    "gb18030",
    "utf-8",
)  # undeclared: the exchanges' GBK (GB18030 is its superset), else UTF-8
_MEMO_FIELDS = frozenset("MGP")
_FOXPRO = frozenset({0x30, 0x31, 0x32, 0xF5})


def check_dbf(path: bytes, size: int) -> list[str]:
    """Header and field descriptors, record count × length against the size, every record's fields."""
    return check_dbf_encoded(path, size)[0]


def check_dbf_encoded(path: bytes, size: int) -> tuple[list[str], str]:
    """(reasons, the text encoding): declared by the language driver byte or a ``.cpg`` beside the file,
    else GBK (GB18030) when every text field reads as it, else UTF-8 when every one reads as that."""
    with open(path, "rb") as raw:
        head = raw.read(32)
        records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        fields = _dbf_fields(raw.read(max(header_len - 32, 0)))
        if fields is None:
            return ["no end of the field descriptors (0x0D): the header is damaged"], ""
        if sum(length for _, _, length in fields) + 1 != record_len:
            total = sum(f[2] for f in fields) + 1
            return [f"fields add up to {total} bytes, the header says {record_len}"], ""
        reasons = _memo_file(path, head, fields)
        expected = header_len + records * record_len
        if size not in (expected, expected + 1):
            held = (size - header_len) // record_len
            reasons.append(
                f"header says {records} records of {record_len} bytes ({expected} bytes with the header), "
                f"the file has {size} bytes (room for {held} records)"
            )
        declared = _declared_encoding(path, head)
        count = min(records, (size - header_len) // record_len)
        readings = []
        for encoding in (declared,) if declared else _DEFAULT_ENCODINGS:
            raw.seek(header_len)
            readings.append((_dbf_records(raw, fields, count, record_len, encoding), encoding))
            if not any(_TEXT_FAILURE in reason for reason in readings[-1][0]):
                break
        else:  # undeclared and neither reads: GBK's findings (damaged GBK is the likely case)
            readings.append(readings[0])
    found, encoding = readings[-1]
    return _limited(reasons + found), encoding


def _declared_encoding(path: bytes, head: bytes) -> str | None:
    cpg = os.path.splitext(path)[0] + b".cpg"  # the shapefile convention: the codec's name in a side file
    if os.path.isfile(cpg):
        with open(cpg, "rb") as side:
            name = side.read(64).decode("ascii", "replace").strip()
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    return _CODE_PAGES.get(head[29]) if len(head) > 29 else None


def _memo_file(path: bytes, head: bytes, fields: list[tuple[str, str, int]]) -> list[str]:
    """A DBF with memo fields keeps their text in a .dbt (dBase) or .fpt (FoxPro) file beside it."""
    version, flags = head[0], head[28] if len(head) > 28 else 0
    memo_fields = [name for name, kind, _ in fields if kind in _MEMO_FIELDS]
    if not memo_fields and not (version in (0x83, 0x8B, 0x8E, 0xCB, 0xF5, 0xFB) or flags & 0x02):
        return []
    base = os.path.splitext(path)[0]
    folder, stem = os.path.split(base)
    wanted = {stem.lower() + ext for ext in (b".dbt", b".fpt")}
    if any(name.lower() in wanted for name in os.listdir(folder or b".")):
        return []
    expected = b".fpt" if version in _FOXPRO else b".dbt"
    named = os.path.basename(base + expected).decode("utf-8", "backslashreplace")
    held = f" (fields {', '.join(memo_fields)})" if memo_fields else ""
    return [f"its memo file {named} is missing: the memo text{held} cannot be read"]


def _dbf_fields(block: bytes) -> list[tuple[str, str, int]] | None:
    fields: list[tuple[str, str, int]] = []
    for offset in range(0, len(block), 32):
        if block[offset] == 0x0D:
            return fields
        descriptor = block[offset : offset + 32]
        if len(descriptor) < 32:
            break
        name = descriptor[:11].split(b"\0", 1)[0].decode("ascii", "replace")
        fields.append((name, chr(descriptor[11]), descriptor[16]))
    return None


_TEXT_FAILURE = ": not "


def _dbf_records(
    raw: IO[bytes], fields: list[tuple[str, str, int]], count: int, record_len: int, encoding: str
) -> list[str]:
    parts = [rb"[ *]"]
    for _, kind, length in fields:
        parts.append(
            _NUMERIC % (length, length)
            if kind in "NF"
            else _FIELD_PATTERNS.get(kind, rb"[\s\S]{%d}" % length)
        )
    layout = re.compile(b"".join(b"(" + p + b")" for p in parts))
    text_fields = [i + 2 for i, (_, kind, _) in enumerate(fields) if kind == "C"]  # group 1: the flag
    label = "GBK" if encoding == "gb18030" else encoding  # GB18030 reads all GBK and more
    reasons: list[str] = []
    per_chunk = max(CHUNK // record_len, 1)
    for first in range(0, count, per_chunk):
        block = raw.read(min(per_chunk, count - first) * record_len)
        for index in range(len(block) // record_len):
            record = block[index * record_len : (index + 1) * record_len]
            match = layout.fullmatch(record)
            if match is None:
                reasons.append(f"record {first + index + 1}: {_bad_field(record, fields)}")
                continue
            for group in text_fields:
                try:
                    match[group].decode(encoding)
                except UnicodeDecodeError:
                    name = fields[group - 2][0]
                    reasons.append(f"record {first + index + 1}, field {name}{_TEXT_FAILURE}{label} text")
        if len(reasons) > MAX_REASONS:
            break
    return reasons


def _bad_field(record: bytes, fields: list[tuple[str, str, int]]) -> str:
    if record[:1] not in (b" ", b"*"):
        return f"deletion flag is {record[:1]!r}, not ' ' or '*'"
    offset = 1
    for name, kind, length in fields:
        value = record[offset : offset + length]
        pattern = _NUMERIC % (length, length) if kind in "NF" else _FIELD_PATTERNS.get(kind)
        if pattern is not None and not re.fullmatch(pattern, value):
            return f"field {name} ({kind}) holds {value!r}"
        offset += length
    return "does not match the field layout"

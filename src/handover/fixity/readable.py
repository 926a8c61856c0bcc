"""check-readable: open every file by its real type (from its first bytes, not its name) and read it through.

Reports ``unreadable`` with the checker's reasons, and ``mismatch`` when the name's extension promises
another type. Types: zip, gzip, tar.gz, bzip2, tar.bz2, xz, tar.xz, tar, dbf, sqlite, pgdump, csv, text,
empty; pdf, ole2 (old Office), 7z and rar are recognised for the mismatch check but not opened; anything
else is ``binary`` and not checked.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handover.fixity import formats, pgdump
from handover.fixity import walk as walking
from handover.fixity.errors import FixityError
from handover.fixity.hashing import Throttle
from handover.fixity.integrity import Options, _tree_problem
from handover.fixity.parallel import batches, ordered_map
from handover.fixity.progress import Progress
from handover.fixity.report import Report, display_path

_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"PGDMP", "pgdump"),
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)
_DBF_VERSIONS = frozenset(
    {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0x8E, 0xCB, 0xF5, 0xFB}
)
_TEXT = frozenset({"text", "csv", "empty"})
EXPECTED: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (".zip", ".xlsx", ".docx", ".pptx", ".jar", ".war", ".odt", ".ods", ".epub"), frozenset({"zip"})
    ),
    ".gz": frozenset({"gzip", "tar.gz"}),
    ".tgz": frozenset({"tar.gz"}),
    ".tar.gz": frozenset({"tar.gz"}),
    ".bz2": frozenset({"bzip2", "tar.bz2"}),
    ".tbz2": frozenset({"tar.bz2"}),
    ".tar.bz2": frozenset({"tar.bz2"}),
    ".xz": frozenset({"xz", "tar.xz"}),
    ".txz": frozenset({"tar.xz"}),
    ".tar.xz": frozenset({"tar.xz"}),
    ".tar": frozenset({"tar"}),
    ".dbf": frozenset({"dbf"}),
    **dict.fromkeys((".sqlite", ".sqlite3", ".db3"), frozenset({"sqlite"})),
    ".pgdump": frozenset({"pgdump"}),
    **dict.fromkeys((".dump", ".backup"), frozenset({"pgdump", "text"})),
    **dict.fromkeys(
        (".txt", ".csv", ".tsv", ".log", ".sql", ".json", ".xml", ".ini", ".conf", ".cfg"), _TEXT
    ),
    ".pdf": frozenset({"pdf"}),
    **dict.fromkeys((".xls", ".doc", ".ppt"), frozenset({"ole2"})),
    ".7z": frozenset({"7z"}),
    ".rar": frozenset({"rar"}),
}
_DELIMITED = (".csv", ".tsv")


def detect(path: bytes, size: int) -> str:
    """The file's type from its first bytes (and, for compressed streams, from what they hold)."""
    if size == 0:
        return "empty"
    with open(path, "rb") as raw:
        head = raw.read(4096)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return _inner_tar(path, kind) if kind in ("gzip", "bzip2", "xz") else kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if _looks_like_dbf(head):
        return "dbf"
    if b"\0" not in head and _decodes(head):
        return "text"
    return "binary"


def _inner_tar(path: bytes, kind: str) -> str:
    openers: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
    opener = openers[kind]
    try:
        with opener(path, "rb") as stream:
            head = stream.read(512)
    except (
        OSError,
        EOFError,
        lzma.LZMAError,
        zlib.error,
    ):  # damaged from its first block: check_compressed says so
        return kind
    return f"tar.{ {'gzip': 'gz', 'bzip2': 'bz2', 'xz': 'xz'}[kind] }" if head[257:262] == b"ustar" else kind


def _looks_like_dbf(head: bytes) -> bool:
    if len(head) < 65 or head[0] not in _DBF_VERSIONS or not (1 <= head[2] <= 12 and 1 <= head[3] <= 31):
        return False
    header_len, record_len = struct.unpack("<HH", head[8:12])
    if header_len < 65 or record_len < 2:
        return False
    return header_len > len(head) or head[header_len - 1] == 0x0D or 0x0D in head[32:header_len:32]


def _decodes(head: bytes) -> bool:
    for encoding in ("utf-8", "gb18030"):  # GB18030: the national standard, a superset of GBK
        for cut in range(4):  # the 4096-byte window may split a character at its end
            try:
                head[: len(head) - cut].decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
    return False


def extension(name: bytes) -> str:
    """The extension that decides the expected type: a double one (.tar.gz) first."""
    lowered = os.path.basename(name).decode("utf-8", "replace").lower()
    for ext in (".tar.gz", ".tar.bz2", ".tar.xz"):
        if lowered.endswith(ext):
            return ext
    return os.path.splitext(lowered)[1]


def check_file(path: bytes, relpath: bytes, size: int) -> tuple[str, list[tuple[str, str]]]:
    """(type, [(kind, detail)]) for one file; OSError is reported as unreadable, never raised."""
    kind, found, _ = check_file_encoded(path, relpath, size)
    return kind, found


def check_file_encoded(path: bytes, relpath: bytes, size: int) -> tuple[str, list[tuple[str, str]], str]:
    """As ``check_file``, with a DBF's text encoding ('' for other types)."""
    encoding = ""
    try:
        ext = extension(relpath)
        kind = detect(path, size)
        if kind == "binary" and "text" in EXPECTED.get(ext, ()):
            kind = "text"  # named as text: a failed decoding is the finding, not the name
        kind = "csv" if kind == "text" and ext in _DELIMITED else kind
        found: list[tuple[str, str]] = []
        if ext in EXPECTED and kind not in EXPECTED[ext] and not (kind == "empty" and size == 0):
            found.append(("mismatch", f"the name says {ext}, the content is {kind}"))
        if kind == "empty" and ext in EXPECTED and not EXPECTED[ext] & _TEXT:
            found.append(("unreadable", f"empty file, a {ext} cannot be empty"))
        if kind == "dbf":
            reasons, encoding = formats.check_dbf_encoded(path, size)
        else:
            reasons = _check(kind, path, size, ext)
        found += [("unreadable", reason) for reason in reasons]
    except OSError as exc:
        return "?", [("unreadable", exc.strerror or str(exc))], ""
    return kind, found, encoding


def _check(kind: str, path: bytes, size: int, ext: str) -> list[str]:
    if kind == "zip":
        return formats.check_zip(path)
    if kind in ("gzip", "bzip2", "xz"):
        return formats.check_compressed(path, kind, tar=False)
    if kind.startswith("tar."):
        codec = {"tar.gz": "gzip", "tar.bz2": "bzip2", "tar.xz": "xz"}[kind]
        return formats.check_compressed(path, codec, tar=True)
    if kind == "tar":
        return formats.check_tar(path, size)
    if kind == "sqlite":
        return formats.check_sqlite(path, size)
    if kind == "pgdump":
        return pgdump.check_pgdump(path, size)[0]
    if kind in ("text", "csv"):
        return formats.check_text(path, as_csv=kind == "csv")
    return []


@dataclass(slots=True)
class _Job:
    relpath: bytes
    size: int
    kind: str = ""
    found: list[tuple[str, str]] | None = None
    encoding: str = ""


_root: bytes = b""
_throttle = Throttle(None)


def _init(root: bytes, rate: float | None) -> None:
    global _root, _throttle
    _root, _throttle = root, Throttle(rate)


def _check_batch(jobs: list[_Job]) -> list[_Job]:
    for job in jobs:
        job.kind, job.found, job.encoding = check_file_encoded(
            os.path.join(_root, job.relpath), job.relpath, job.size
        )
        # --max-rate: the checkers read through libraries, so the pause comes after each whole file.
        _throttle.consume(job.size)
    return jobs


def check_readable(root: str, *, options: Options | None = None) -> Report:
    """Every file under ``root`` opened by its real type; counts per type go to the report's ``types``."""
    options = options or Options()
    base = os.path.abspath(os.fsencode(root))
    if not os.path.isdir(base):
        raise FixityError(f"{root!r} is not a directory")
    report = Report("check-readable", root=display_path(base))
    report.extra.update(types={}, links_not_followed=0, encodings={})
    encodings: dict[str, str] = {}
    types: Counter[str] = Counter()
    files = (_Job(e.relpath, e.size) for e in walking.walk(base) if _tree_problem(e, report))
    total = sum(e.size for e in walking.walk(base) if e.kind == walking.FILE) if options.progress else 0
    progress = Progress(enabled=options.progress, total_bytes=total)
    rate = options.max_rate / max(options.jobs, 1) if options.max_rate else None
    try:
        for _, done in ordered_map(
            _check_batch,
            batches(files, lambda j: j.size),
            jobs=options.jobs,
            initializer=_init,
            initargs=(base, rate),
        ):
            for job in done:
                progress.advance(job.size)
                report.files += 1
                report.bytes += job.size
                types[job.kind] += 1
                if job.encoding not in ("", "gb18030"):  # a DBF not in the exchanges' GBK: said, not a fault
                    encodings[display_path(job.relpath)] = job.encoding
                for kind, detail in job.found or []:
                    report.add(kind, detail, path=job.relpath)
    finally:
        progress.close()
    report.extra["types"] = dict(sorted(types.items()))
    report.extra["encodings"] = dict(sorted(encodings.items()))
    return report.finish()

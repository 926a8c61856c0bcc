"""Hypothesis on the fixity agent's readers (issue 18): the readability check of any mutation of a DBF, a
pg_dump, a zip, a tar.gz, a gzip, a SQLite file or a GB18030 CSV is a list of findings for that file, never an
exception; a mutated manifest is loaded or refused with a ManifestError naming the line. (Every flipped byte of
a bundle: test_bundle.py; names and round trips of manifests: test_manifest.py.)"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handover.fixity import readable
from handover.fixity.errors import ManifestError
from handover.fixity.manifest import Header, ManifestEntry, ManifestWriter, load
from tests.fixity.trees import DBF_ROWS, dbf_bytes, pg_custom_dump, sqlite_file, tar_gz_bytes, zip_bytes
from tests.fuzzing import fuzz_settings, mutated, mutated_zip

PAYLOAD = b"".join(b"%06d,trade,100.00\n" % i for i in range(200))


def _sqlite() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ta.sqlite"
        sqlite_file(path)
        return path.read_bytes()


SEEDS = {
    "clearing.dbf": lambda: dbf_bytes(DBF_ROWS),
    "trades.csv": lambda: "账号,名称,金额\n1,张三,1.00\n2,李四,2.50\n".encode("gb18030"),
    "db.tar.gz": lambda: tar_gz_bytes({"a.sql": PAYLOAD, "b.sql": PAYLOAD[::-1]}),
    "log.gz": lambda: gzip.compress(PAYLOAD),
    "files.zip": lambda: zip_bytes({"a.txt": PAYLOAD, "b.txt": b"x" * 5000}),
    "ta.sqlite": _sqlite,
    "ledger.dump": pg_custom_dump,
}
_BUILT: dict[str, bytes] = {}


def _seed(name: str) -> bytes:
    if name not in _BUILT:
        _BUILT[name] = SEEDS[name]()
    return _BUILT[name]


def _check(name: str, content: bytes) -> tuple[str, list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        return readable.check_file(bytes(path), name.encode(), len(content))


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_the_seeds_are_readable(name: str) -> None:
    kind, found = _check(name, _seed(name))
    assert found == [] and kind not in ("binary", "?"), (kind, found)


@pytest.mark.parametrize("name", sorted(SEEDS))
@fuzz_settings()
@given(data=st.data())
def test_a_mutated_file_gives_findings_never_an_exception(name: str, data: st.DataObject) -> None:
    seed = _seed(name)
    content = data.draw(mutated_zip(seed) if name.endswith(".zip") else mutated(seed))
    kind, found = _check(name, content)
    assert kind and all(what in ("mismatch", "unreadable") and detail for what, detail in found)


def _manifest() -> bytes:
    out = io.BytesIO()
    writer = ManifestWriter(
        out, Header("sha256", b"/data", 1_733_000_000_000_000_000, "host", "tool", native=True)
    )
    for number in range(5):
        writer.write(ManifestEntry(b"day/%d.csv" % number, f"{number:064x}", number * 10, number))
    writer.write(ManifestEntry(b"day/\xe4\xb8\xad\nname", "f" * 64, 7, 0))
    writer.finish()
    return out.getvalue()


@fuzz_settings(scale=2)
@given(data=st.data(), lenient=st.booleans(), sha256sum=st.booleans())
def test_a_mutated_manifest_is_loaded_or_refused_naming_the_line(
    data: st.DataObject, lenient: bool, sha256sum: bool
) -> None:
    seed = b"".join(b"%064x  ./day/%d.csv\n" % (n, n) for n in range(5)) if sha256sum else _manifest()
    content = data.draw(mutated(seed))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.sha256"
        path.write_bytes(content)
        try:
            header, table = load(bytes(path), lenient=lenient)
        except ManifestError as refused:
            assert str(refused) and (refused.line is None or refused.line >= 1)
            return
    assert header.algorithm and all(isinstance(key, bytes) for key in table)


def test_a_gzip_that_does_not_inflate_is_a_finding() -> None:
    """Found by the property above: the type detection read a gzip's first block and let zlib.error out."""
    damaged = bytearray(gzip.compress(PAYLOAD))
    damaged[10] = 0xFF  # the first deflate block: BFINAL=1, BTYPE=11 (reserved)
    kind, found = _check("log.gz", bytes(damaged))
    assert kind == "gzip" and found and found[0][0] == "unreadable", found


def test_a_sqlite_file_cut_inside_its_header_is_a_finding() -> None:
    """Found by the property above: a SQLite file cut between its magic and byte 100 raised struct.error."""
    kind, found = _check("ta.sqlite", _seed("ta.sqlite")[:40])
    assert kind == "sqlite" and found == [("unreadable", "the header is cut short: 40 of its 100 bytes")]


def test_a_sqlite_file_whose_integrity_messages_are_not_utf8_is_a_finding() -> None:
    """Found by the long profile: with one byte changed, SQLite's error message quotes bytes that are not UTF-8
    and sqlite3 raised UnicodeDecodeError (not sqlite3.Error) out of the integrity check."""
    damaged = bytearray(_seed("ta.sqlite"))
    damaged[4055] = 0xDE
    kind, found = _check("ta.sqlite", bytes(damaged))
    assert (kind, found) == (
        "sqlite",
        [("unreadable", "sqlite: the database is damaged (its error message is not text)")],
    )

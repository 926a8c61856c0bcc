"""check-readable: every type opened by its content; each damaged file found, nothing else."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from handover.fixity.integrity import Options
from handover.fixity.readable import check_readable
from tests.fixity.trees import DBF_ROWS, clean_tree, dbf_bytes, zip_bytes


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_tree(tmp_path_factory.mktemp("readable") / "tree")


def found(root: Path, jobs: int = 1) -> set[tuple[str, str]]:
    report = check_readable(str(root), options=Options(jobs=jobs))
    return {(p.kind, (p.path or b"").decode()) for p in report.problems}


@pytest.mark.parametrize("jobs", [1, 2])
def test_clean_tree_reads(clean: Path, jobs: int) -> None:
    report = check_readable(str(clean), options=Options(jobs=jobs))
    assert report.ok, report.problems
    assert report.extra["types"] == {
        "binary": 1, "csv": 1, "dbf": 1, "empty": 1, "gzip": 1, "pgdump": 1, "sqlite": 1, "tar": 1,
        "tar.gz": 1, "text": 1, "zip": 1,
    }  # fmt: skip


def _corrupt_zip_member(data: bytes) -> bytes:
    """Flip one byte of the first member's compressed data: its CRC-32 no longer matches."""
    name_len, extra_len = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
    at = 30 + name_len + extra_len + 10
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_each_damaged_file_is_found(clean: Path, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(clean, root)
    day = root / "counter/20241008"
    log = (day / "log.gz").read_bytes()
    (day / "log.gz").write_bytes(log[: len(log) // 2])  # truncated gzip
    stored = zip_bytes({"a.txt": b"stored " * 500})
    (day / "files.zip").write_bytes(_corrupt_zip_member(stored))  # bad CRC
    (day / "clearing.dbf").write_bytes(dbf_bytes(DBF_ROWS, header_records=5))  # header lies
    tgz = (day / "db.tar.gz").read_bytes()
    (day / "db.tar.gz").write_bytes(tgz[:-40])
    (day / "trades.csv").write_bytes("账号,名称,金额\n1,张三,1.00\n2,李四\n".encode("gbk"))
    (day / "notes.txt").write_bytes(b"\xff\xfe\xfa not text in any encoding \x81\x20")
    (day / "looks-like.zip").write_bytes(gzip.compress(b"gzip inside"))  # the name lies
    dump = (root / "ta/20241008/ledger.dump").read_bytes()
    (root / "ta/20241008/ledger.dump").write_bytes(dump[:-100])
    db = bytearray((root / "ta/20241008/ta.sqlite").read_bytes())
    db[4096 : 4096 + 8] = b"\xee" * 8  # scribble over the header of the table's b-tree page
    (root / "ta/20241008/ta.sqlite").write_bytes(bytes(db))

    assert found(root, jobs=2) == {
        ("unreadable", "counter/20241008/log.gz"),
        ("unreadable", "counter/20241008/files.zip"),
        ("unreadable", "counter/20241008/clearing.dbf"),
        ("unreadable", "counter/20241008/db.tar.gz"),
        ("unreadable", "counter/20241008/trades.csv"),
        ("unreadable", "counter/20241008/notes.txt"),
        ("mismatch", "counter/20241008/looks-like.zip"),
        ("unreadable", "ta/20241008/ledger.dump"),
        ("unreadable", "ta/20241008/ta.sqlite"),
    }


def test_dbf_details_name_the_record_and_field(tmp_path: Path) -> None:
    data = bytearray(dbf_bytes(DBF_ROWS))
    record = 32 + 32 * 3 + 1 + 41  # the second record
    data[record + 21 : record + 33] = b"12x.45      "  # a letter in a numeric field
    data[record + 1 : record + 3] = b"\xff\xff"  # not GBK in a character field
    (tmp_path / "bad.dbf").write_bytes(bytes(data))
    report = check_readable(str(tmp_path))
    assert [p.detail for p in report.problems] == ["record 2: field AMOUNT (N) holds b'12x.45      '"]
    data[record + 21 : record + 33] = b"    12345.00"
    (tmp_path / "bad.dbf").write_bytes(bytes(data))
    assert [p.detail for p in check_readable(str(tmp_path)).problems] == [
        "record 2, field NAME: not GBK text"
    ]


def test_lying_dbf_says_what_the_file_holds(tmp_path: Path) -> None:
    (tmp_path / "short.dbf").write_bytes(dbf_bytes(DBF_ROWS, header_records=1000))
    (detail,) = [p.detail for p in check_readable(str(tmp_path)).problems]
    assert "header says 1000 records of 41 bytes" in detail and "room for 3 records" in detail

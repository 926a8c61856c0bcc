"""DBF and text files as the interop review (2026-12, §2–3) met them in the wild: SZSE's SJSXX.DBF with empty
dates written as ``"       0"``, GB18030 text, DBFs in other code pages, and memo files gone missing.

No program that writes DBF is installed, so the files are built here byte by byte as the review describes
them (dBase III layout; the language driver byte at offset 29; memo fields of type M)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from handover.fixity.readable import check_readable

Field = tuple[str, str, int]
SJSXX_FIELDS: list[Field] = [("XXZQDM", "C", 6), ("XXZQJC", "C", 8), ("XXDJRQ", "D", 8), ("XXMGMZ", "N", 7)]


def dbf(fields: list[Field], rows: list[list[bytes]], *, version: int = 0x03, ldid: int = 0) -> bytes:
    """A DBF with these fields; each row's values are already the field's bytes (padded here)."""
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(length for _, _, length in fields)
    out = bytearray(struct.pack("<BBBBIHH", version, 110, 11, 4, len(rows), header_len, record_len))
    out += bytes(17) + bytes([ldid]) + bytes(2)
    for name, kind, length in fields:
        out += name.encode().ljust(11, b"\0") + kind.encode() + bytes(4) + bytes([length, 0]) + bytes(14)
    out += b"\r"
    for row in rows:
        out += b" " + b"".join(v.ljust(n)[:n] for v, (_, _, n) in zip(row, fields, strict=True))
    return bytes(out + b"\x1a")


def sjsxx() -> bytes:
    """SZSE's securities information file of 2010-11-04 as the review saw it: the first record a special
    record, GBK names with full-width letters, and XXDJRQ empty as seven spaces and a zero in most records."""
    rows = [[b"000000", b"Special ", b"20101104", b"   0.00"]]
    for code, name in (("000001", "深发展Ａ"), ("000002", "万  科Ａ"), ("000004", "国农科技")):
        rows.append([code.encode(), name.encode("gbk"), b"       0", b"   1.00"])
    rows.append([b"000005", "世纪星源".encode("gbk"), b"20100601", b"   1.00"])
    return dbf(SJSXX_FIELDS, rows)


def problems(root: Path) -> list[tuple[str, str, str]]:
    report = check_readable(str(root))
    return [(p.kind, (p.path or b"").decode(), p.detail) for p in report.problems]


def test_szse_sjsxx_with_empty_dates_as_spaces_and_a_zero_reads(tmp_path: Path) -> None:
    (tmp_path / "SJSXX.DBF").write_bytes(sjsxx())
    assert problems(tmp_path) == []


def test_a_real_date_field_with_other_bytes_is_still_a_finding(tmp_path: Path) -> None:
    data = sjsxx().replace(b"       0", b"      0X", 1)
    (tmp_path / "SJSXX.DBF").write_bytes(data)
    assert problems(tmp_path) == [("unreadable", "SJSXX.DBF", "record 2: field XXDJRQ (D) holds b'      0X'")]


def test_gb18030_text_and_dbf_names_outside_gbk_read(tmp_path: Path) -> None:
    """王䶮: 䶮 (CJK Extension A) is in GB18030, not in GBK."""
    (tmp_path / "gb18030-ext.csv").write_bytes("保管人,设备\n王䶮,主柜台\n".encode("gb18030"))
    fields: list[Field] = [("NAME", "C", 12)]
    (tmp_path / "names.dbf").write_bytes(dbf(fields, [["王䶮".encode("gb18030")], [b"plain"]]))
    report = check_readable(str(tmp_path))
    assert report.ok, report.problems
    assert report.extra["encodings"] == {}


@pytest.mark.parametrize(
    ("ldid", "encoding", "text"),
    [(0x57, "cp1252", "Müller & Søn"), (0x03, "cp1252", "Crème brûlée"), (0xC9, "cp1251", "Москва"),
     (0x78, "cp950", "臺灣證券"), (0x00, "utf-8", "深圳证券交易所")],
)  # fmt: skip
def test_a_dbf_in_another_encoding_is_reported_as_that_encoding(
    tmp_path: Path, ldid: int, encoding: str, text: str
) -> None:
    fields: list[Field] = [("NAME", "C", 24)]
    (tmp_path / "other.dbf").write_bytes(dbf(fields, [[text.encode(encoding)], [b"ascii"]], ldid=ldid))
    report = check_readable(str(tmp_path))
    assert report.ok, report.problems
    assert report.extra["encodings"] == {"other.dbf": encoding}


def test_a_cpg_beside_the_dbf_names_its_encoding(tmp_path: Path) -> None:
    """Latin-1 with no language driver (pyshp's latin1.dbf): without a .cpg it cannot be told from damaged
    GBK and stays a finding; a .cpg beside it (the shapefile convention) says what it is."""
    fields: list[Field] = [("NAME", "C", 24)]
    (tmp_path / "latin1.dbf").write_bytes(dbf(fields, [["Café à la crème".encode("latin-1")]]))
    assert [p[2] for p in problems(tmp_path)] == ["record 1, field NAME: not GBK text"]
    (tmp_path / "latin1.cpg").write_text("ISO-8859-1\n")
    report = check_readable(str(tmp_path))
    assert report.ok, report.problems
    assert report.extra["encodings"] == {"latin1.dbf": "iso8859-1"}


def test_damaged_gbk_in_an_exchange_file_is_still_damage(tmp_path: Path) -> None:
    data = bytearray(sjsxx())
    at = data.index("深发展".encode("gbk"))
    data[at : at + 2] = b"\xff\xff"
    (tmp_path / "SJSXX.DBF").write_bytes(bytes(data))
    assert problems(tmp_path) == [("unreadable", "SJSXX.DBF", "record 2, field XXZQJC: not GBK text")]


MEMO_FIELDS: list[Field] = [("CODE", "C", 6), ("NOTES", "M", 10)]


@pytest.mark.parametrize(("version", "memo"), [(0x83, "ACCT.dbt"), (0xF5, "ACCT.fpt")])
def test_a_missing_memo_file_is_reported(tmp_path: Path, version: int, memo: str) -> None:
    (tmp_path / "ACCT.DBF").write_bytes(dbf(MEMO_FIELDS, [[b"000001", b"         1"]], version=version))
    assert problems(tmp_path) == [
        (
            "unreadable",
            "ACCT.DBF",
            f"its memo file {memo} is missing: the memo text (fields NOTES) cannot be read",
        )
    ]
    (tmp_path / memo.upper()).write_bytes(bytes(512))  # beside it, in any case of its name
    assert problems(tmp_path) == []

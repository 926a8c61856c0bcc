"""Hypothesis on the scanners' files (issue 18): any mutation of a valid Nessus XML, Nessus CSV, OpenVAS XML,
Chinese CSV (GB18030) or xlsx is a scan or a refusal naming the file, never another exception."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handover.core.errors import DomainError
from handover.risk import vulnfiles
from tests.fuzzing import fuzz_settings, mutated, mutated_zip
from tests.risk.scans import F, S, chinese_csv, nessus, nessus_csv, openvas

SCAN = S(
    dt.datetime(2026, 11, 2, 10, 30, tzinfo=dt.UTC),
    {"10.0.0.1": "jy-db01.firm.local", "10.0.0.2": ""},
    [
        F("10.0.0.1", 22, "174738", "high", cves=("CVE-2023-38408",)),
        F("10.0.0.2", 443, "42873", "medium", name="SSL Medium Strength Cipher Suites"),
        F("10.0.0.2", 0, "19506", "info", name="Nessus Scan Information"),
    ],
)


def _xlsx(table: bytes) -> bytes:
    book = openpyxl.Workbook()
    for row in csv.reader(io.StringIO(table.decode("gb18030"))):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# name → (the file's name, its format, a valid file)
SEEDS = {
    "nessus": ("scan.nessus", "nessus", nessus(SCAN)),
    "nessus-csv": ("scan.csv", "csv", nessus_csv(SCAN)),
    "openvas": ("gvm.xml", "openvas", openvas(SCAN)),
    "chinese-csv": ("扫描.csv", "csv", chinese_csv(SCAN)),
    "xlsx": ("扫描.xlsx", "csv", _xlsx(chinese_csv(SCAN))),
}


def _outcome(name: str, fmt: str, content: bytes) -> None:
    try:
        scan = vulnfiles.read(name, content, fmt)
    except DomainError as refused:
        assert name in str(refused.message), refused.message
        for place, reason in getattr(refused, "problems", []):
            assert str(place) and str(reason)  # each problem names its place (line, column, row, cell)
        return
    assert all(item.host and item.severity for item in scan.items)


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_the_seeds_are_valid_scans(kind: str) -> None:
    name, fmt, seed = SEEDS[kind]
    assert len(vulnfiles.read(name, seed, fmt).items) == 2


@pytest.mark.parametrize("kind", sorted(SEEDS))
@fuzz_settings()
@given(data=st.data())
def test_a_mutated_scan_file_is_a_scan_or_a_refusal_naming_it(kind: str, data: st.DataObject) -> None:
    name, fmt, seed = SEEDS[kind]
    _outcome(name, fmt, data.draw(mutated_zip(seed) if name.endswith(".xlsx") else mutated(seed)))


@fuzz_settings()
@given(fmt=st.sampled_from(vulnfiles.FORMATS), blob=st.binary(max_size=400))
def test_any_bytes_are_a_scan_or_a_refusal_naming_the_file(fmt: str, blob: bytes) -> None:
    _outcome("any.file", fmt, blob)

"""Hypothesis on the register import's reader and checker (issue 18): any mutation of a valid xlsx or CSV is
a table or a refusal naming the file, and any table is a parsed file whose problems name the row and column,
never another exception. (The bounds against far cells and huge files: test_io_import_limits.py.)"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handover.core.errors import DomainError
from handover.registers.io import importing, reading
from handover.registers.io.template import template_bytes
from tests.fuzzing import damaged_deflate, fuzz_settings, mutated, mutated_zip, unknown_zip_version
from tests.registers.io_support import Scenery, fill_template, valid_row

REGISTERS = (14, 18)


@pytest.fixture
def scenery(world):
    return Scenery(world)


@pytest.fixture
def seeds(scenery: Scenery) -> dict[tuple[int, str], bytes]:
    """A valid xlsx and CSV of each register, with a row (built once per test, not per example)."""
    seeds = {}
    for number in REGISTERS:
        rows = [valid_row(number, scenery)]
        seeds[number, "xlsx"] = fill_template(template_bytes(number), rows, {"日期": "2026-12-01"})
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        seeds[number, "csv"] = template_bytes(number, "csv") + text.getvalue().encode()
    return seeds


def _read(name: str, content: bytes, number: int) -> list[list[object]] | None:
    try:
        return reading.read_table(name, content, bounds=importing.bounds(number))
    except DomainError as refused:
        assert name in str(refused.message), refused.message  # the message names the file
        return None


def test_the_seeds_parse_without_issues(scenery, seeds) -> None:
    """The property fuzzes valid files (else it would only fuzz refusals)."""
    world = scenery.world
    for (number, fmt), seed in seeds.items():
        table = reading.read_table(f"t.{fmt}", seed, bounds=importing.bounds(number))
        parsed = importing.parse(number, table, engagement=world.engagement, site=world.branch_a)
        assert parsed.issues == [] and len(parsed.rows) == 1, (number, fmt, [str(i) for i in parsed.issues])


@fuzz_settings(scale=0.5)
@given(data=st.data(), number=st.sampled_from(REGISTERS), fmt=st.sampled_from(("xlsx", "csv")))
def test_a_mutated_file_is_a_table_or_a_refusal_naming_it_and_its_problems_are_located(
    scenery, seeds, data, number, fmt
) -> None:
    seed = seeds[number, fmt]
    content = data.draw(mutated_zip(seed) if fmt == "xlsx" else mutated(seed))
    name = f"表{number}-甲营业部.{fmt}"
    table = _read(name, content, number)
    if table is None:
        return
    world = scenery.world
    parsed = importing.parse(number, table, engagement=world.engagement, site=world.branch_a, filename=name)
    for issue in parsed.issues:
        assert str(issue) and issue.reason  # each problem says what and, for a row, which row and column
        assert issue.row is None or issue.row >= 1


@fuzz_settings()
@given(
    st.lists(
        st.lists(st.one_of(st.text(max_size=40), st.integers(), st.floats(), st.none()), max_size=12),
        max_size=12,
    )
)
def test_any_csv_table_of_cells_is_refused_or_read(rows) -> None:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    for encoding in ("utf-8", "gb18030", "utf-16"):
        _read("any.csv", text.getvalue().encode(encoding, errors="replace"), 18)


@pytest.mark.parametrize("damage", [damaged_deflate, unknown_zip_version])
def test_a_workbook_whose_sheet_zipfile_cannot_open_is_refused_naming_the_file(damage) -> None:
    """Found by the scanners' fuzzer (their xlsx goes through this reader): a sheet that does not inflate
    (zlib.error) or asks for an unknown zip version (NotImplementedError) escaped read_table."""
    content = damage(template_bytes(18), "xl/worksheets/sheet1.xml")
    with pytest.raises(DomainError) as refused:
        reading.read_table("表18.xlsx", content, bounds=importing.bounds(18))
    assert "表18.xlsx" in str(refused.value.message) and refused.value.field == "file"


@pytest.fixture
def xls_seed(seeds, tmp_path) -> bytes:
    """Register 14's xlsx seed saved as .xls by LibreOffice (tests/registers/test_io_spreadsheets.py)."""
    from tests.registers.test_io_spreadsheets import _libreoffice_xls

    return _libreoffice_xls(tmp_path, {"seed": seeds[14, "xlsx"]})["seed"]


@fuzz_settings(scale=0.5)
@given(data=st.data())
def test_a_mutated_xls_is_a_table_or_a_refusal_naming_it(scenery, xls_seed, data) -> None:
    """The .xls reader (xlrd, a third party's parser of an old binary format) on damaged files: a table or a
    refusal naming the file, never another exception."""
    assert reading.read_table("seed.xls", xls_seed, bounds=importing.bounds(14))  # the seed itself reads
    _read("表14-甲营业部.xls", data.draw(mutated(xls_seed)), 14)

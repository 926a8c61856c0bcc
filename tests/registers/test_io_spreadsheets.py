"""What users' spreadsheet programs save (issue 17, interop review §1): a CSV from a Chinese Excel writes dates as
``2020/3/15``; a number-like identifier typed in the template stays text (``000123``); and the exported sheet
prints as the form it is (landscape, every column on one page's width, the header row on every page, page
numbers and the export's time)."""

from __future__ import annotations

import csv
import io
import os
import subprocess

import openpyxl
import pytest

from handover.core.actors import system
from handover.core.errors import DomainError
from handover.registers import catalogue
from handover.registers.io import exporting, importing, reading
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, Row
from handover.registers.validation import parse_day, parse_moment
from tests.registers.io_support import Scenery, fill_template, valid_row


@pytest.fixture
def scenery(world):
    return Scenery(world)


def _index(number: int, key: str) -> int:
    return 1 + [c.key for c in catalogue.columns(number)].index(key)


def _import(scenery, number, content, name):
    return importing.register_import(
        actor=system("test"),
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=number,
        filename=name,
        content=content,
    )


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2020/3/15", "2020-03-15"),
        ("2020-3-5", "2020-03-05"),
        (" 2026/12/04 ", "2026-12-04"),
        ("2020-03-15", "2020-03-15"),
    ],
)
def test_a_day_is_read_as_spreadsheets_write_it(text, day):
    assert parse_day(text).isoformat() == day


@pytest.mark.parametrize("text", ["3/15/2020", "15/3/2020", "2020/13/1", "2020/3/15 10:00", "20200315x"])
def test_an_ambiguous_or_wrong_day_is_refused(text):
    with pytest.raises(ValueError):
        parse_day(text)


def test_a_moment_is_read_as_spreadsheets_write_it():
    assert parse_moment("2026/12/4 9:05").isoformat() == "2026-12-04T09:05:00"
    assert parse_moment("2026-12-04 09:05:30").isoformat() == "2026-12-04T09:05:30"
    with pytest.raises(ValueError):
        parse_moment("2026/12/4")


def test_a_chinese_excel_csv_with_slashed_dates_and_leading_zeros_imports(scenery):
    lines = list(csv.reader(io.StringIO(template_bytes(16, "csv").decode("utf-8-sig"))))
    lines[1][lines[1].index("日期") + 1] = "2026/12/1"
    row = valid_row(16, scenery)
    row[_index(16, "bought_on")] = "2020/3/15"
    row[_index(16, "support_until")] = "2027/3/14"
    row[_index(16, "fixed_asset_no")] = "000123"
    out = io.StringIO()
    csv.writer(out).writerows([*lines, row])
    result = _import(scenery, 16, out.getvalue().encode("gb18030"), "表16.csv")
    stored = Row.objects.get(form__form_no=result.form_no)
    assert Form.objects.get(form_no=result.form_no).form_date.isoformat() == "2026-12-01"
    assert stored.data["bought_on"] == "2020-03-15" and stored.data["support_until"] == "2027-03-14"
    assert stored.data["fixed_asset_no"] == "000123"


def test_the_templates_identifier_columns_are_text_and_dates_iso():
    sheet = openpyxl.load_workbook(io.BytesIO(template_bytes(16))).worksheets[0]
    by_column = {
        col: dim.number_format
        for dim in sheet.column_dimensions.values()
        for col in range(dim.min, dim.max + 1)  # openpyxl keeps a run of like columns under its first letter
    }
    formats = {c.key: by_column.get(1 + _index(16, c.key), "General") for c in catalogue.columns(16)}
    assert formats["fixed_asset_no"] == "@" and formats["serial"] == "@"
    assert formats["bought_on"] == "yyyy-mm-dd"
    assert formats["qty"] == "General"


def test_an_exported_form_prints_landscape_fit_to_width_with_its_header_on_every_page(scenery):
    row = valid_row(8, scenery)
    form = Form.objects.get(
        form_no=_import(
            scenery, 8, fill_template(template_bytes(8), [row], {"日期": "2026-12-01"}), "f.xlsx"
        ).form_no
    )
    out = io.BytesIO()
    exporting.register_export(
        actor=system("test"),
        engagement=scenery.world.engagement,
        register_no=8,
        fmt="xlsx",
        out=out,
        form=form,
    )
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    header_row = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 8  # A3: 17 columns
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth or 1, sheet.page_setup.fitToHeight) == (1, 0)  # 1 is OOXML's default
    assert sheet.print_title_rows == f"${header_row}:${header_row}"
    assert "&P" in sheet.oddFooter.right.text and "&N" in sheet.oddFooter.right.text
    assert any(ch.isdigit() for ch in sheet.oddFooter.left.text)  # the export's time
    form_no = sheet.cell(2, 2).value
    assert sheet.column_dimensions["B"].width >= len(form_no)  # the form number is not cut by 日期


def _libreoffice_xls(tmp_path, books: dict[str, bytes]) -> dict[str, bytes]:
    """The workbooks saved as Excel 97-2003 (.xls) by LibreOffice, as a user's "Save as" writes them."""
    for name, content in books.items():
        (tmp_path / f"{name}.xlsx").write_bytes(content)
    converted = subprocess.run(
        ["soffice", "--headless", "--norestore", "--convert-to", "xls", "--outdir", str(tmp_path),
         *(str(tmp_path / f"{name}.xlsx") for name in books)],
        env={**os.environ, "HOME": str(tmp_path)},  # a profile of its own
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    return {name: (tmp_path / f"{name}.xls").read_bytes() for name in books}


def test_an_xls_saved_by_libreoffice_imports_and_a_cell_right_of_the_table_is_named(scenery, tmp_path):
    """Interop review §1b: `.xls` (Excel 97-2003, what older Excel and WPS save) was refused by its name alone.
    It imports now, with the same values as the xlsx it was saved from; a value far right of the table is
    refused naming its cell, before anything is written."""
    row = valid_row(16, scenery)
    row[_index(16, "fixed_asset_no")] = "000123"
    good = fill_template(template_bytes(16), [row], {"日期": "2026-12-01"})
    book = openpyxl.load_workbook(io.BytesIO(good))
    book.worksheets[0].cell(12, 200).value = "遗留"
    far = io.BytesIO()
    book.save(far)
    saved = _libreoffice_xls(tmp_path, {"good": good, "far": far.getvalue()})
    assert saved["good"].startswith(reading.XLS_MAGIC)
    result = _import(scenery, 16, saved["good"], "表16.xls")
    stored = Row.objects.get(form__form_no=result.form_no)
    assert Form.objects.get(form_no=result.form_no).form_date.isoformat() == "2026-12-01"
    assert stored.data["fixed_asset_no"] == "000123"
    assert str(stored.data["bought_on"]) == str(row[_index(16, "bought_on")])[:10]
    rows_before = Row.objects.count()
    with pytest.raises(DomainError, match=r"GR12") as refused:
        _import(scenery, 16, saved["far"], "表16-far.xls")
    assert refused.value.field == "file" and Row.objects.count() == rows_before

"""Every register, 表1 to 表41: template → one valid row → import → export (xlsx, CSV, PDF) → read back with
two independent readers (python-calamine and openpyxl) and compared; re-import changes nothing."""

from __future__ import annotations

import csv
import io
import subprocess

import pytest

from handover.audit.models import Event
from handover.core.actors import system
from handover.registers import catalogue
from handover.registers.io import exporting, importing
from handover.registers.io.frame import frame
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, Row
from tests.registers.io_support import (
    Scenery,
    expected_cell,
    fill_template,
    read_calamine,
    read_openpyxl,
    same,
    valid_cell,
    valid_row,
)

COMPUTED = (6, 24)  # built from the other registers, never imported (rules.prepare_row)
NUMBERS = [spec.number for spec in catalogue.REGISTERS if spec.number not in COMPUTED]


@pytest.fixture
def scenery(world):
    return Scenery(world)


def _header_values(number, scenery):
    values = {"日期": "2026-12-01", "填报单位/站点": "BA"}
    for column in catalogue.header_fields(number):
        if column.type not in ("att", "ref", "refs"):
            values[column.zh] = valid_cell(column, scenery)
    return values


def _import(scenery, number, content, name="filled.xlsx"):
    return importing.register_import(
        actor=system("test"),
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=number,
        filename=name,
        content=content,
    )


def _export(scenery, number, fmt, **kwargs):
    out = io.BytesIO()
    summary = exporting.register_export(
        actor=system("test"),
        engagement=scenery.world.engagement,
        register_no=number,
        fmt=fmt,
        out=out,
        **kwargs,
    )
    return summary, out.getvalue()


def _body(table, labels):
    """The header row and the data rows of an exported frame."""
    start = next(i for i, cells in enumerate(table) if cells and cells[0] == "序号")
    header = [c for c in table[start] if c not in (None, "")]
    assert header == labels
    rows = []
    for cells in table[start + 1 :]:
        if not cells or cells[0] in (None, ""):
            break
        rows.append(cells)
    return table[0][0], header, rows


@pytest.mark.parametrize("number", COMPUTED)
def test_a_computed_register_is_not_imported(scenery, number):
    filled = fill_template(
        template_bytes(number), [valid_row(number, scenery)], _header_values(number, scenery)
    )
    with pytest.raises(importing.ImportRefused) as refused:
        _import(scenery, number, filled)
    assert [f"表{number}" in str(issue.reason) for issue in refused.value.issues] == [True]
    assert not Form.objects.filter(register_no=number).exclude(form_no__startswith="REF-").exists()


@pytest.mark.parametrize("number", NUMBERS)
def test_template_import_export_round_trip(scenery, number):
    spec, fr = catalogue.get(number), frame(number)
    template = template_bytes(number)
    filled = fill_template(template, [valid_row(number, scenery)], _header_values(number, scenery))

    result = _import(scenery, number, filled)
    assert result.created == [1] and result.form_created
    form = Form.objects.get(form_no=result.form_no)
    assert form.register_no == number and form.site == scenery.world.branch_a
    assert str(form.form_date) == "2026-12-01"

    summary, xlsx = _export(scenery, number, "xlsx", form=form)
    assert summary.rows == 1
    stored = Row.objects.get(form=form).data
    expected = [
        1,
        *(stored[c.key] if c.note.startswith("computed:") else expected_cell(c, scenery) for c in fr.columns),
        "备注文字",
    ]
    by_reader = {"calamine": read_calamine(xlsx), "openpyxl": read_openpyxl(xlsx)}
    for reader, table in by_reader.items():
        title, _header, rows = _body(table, fr.export_labels)
        assert title == spec.title, reader
        assert len(rows) == 1, reader
        got = rows[0][: len(expected)]
        mismatched = [
            (label, want, have)
            for label, want, have in zip(fr.labels, expected, got, strict=True)
            if not same(want, have)
        ]
        assert not mismatched, (reader, mismatched)
        assert any(str(cell).startswith("编号") for cell in table[1] if cell), reader
        assert form.form_no in table[1], reader
    assert all(
        same(a, b) for ra, rb in zip(*by_reader.values(), strict=False) for a, b in zip(ra, rb, strict=False)
    )

    _summary, csv_bytes = _export(scenery, number, "csv", form=form)
    table = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    title, _header, rows = _body(table, fr.export_labels)
    assert title == spec.title and len(rows) == 1
    assert all(same(str(want), have) for want, have in zip(expected, rows[0], strict=False))

    _summary, pdf = _export(scenery, number, "pdf", form=form)
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    flat = "".join(text.split())
    missing = [label for label in [spec.title, *fr.labels] if label not in flat]
    assert not missing

    again = _import(scenery, number, filled)
    assert again.created == [] and again.updated == [] and again.unchanged == [1]
    assert Row.objects.filter(form=form, is_current=True).count() == 1
    assert Event.objects.filter(action="registers.export").count() == 3


@pytest.mark.parametrize("number", [8, 11, 16])
def test_an_exported_file_imports_back_unchanged(scenery, number):
    filled = fill_template(
        template_bytes(number), [valid_row(number, scenery)], _header_values(number, scenery)
    )
    form = Form.objects.get(form_no=_import(scenery, number, filled).form_no)
    for fmt in ("xlsx", "csv"):
        _summary, exported = _export(scenery, number, fmt, form=form)
        again = _import(scenery, number, exported, name=f"export.{fmt}")
        assert again.form_no == form.form_no and again.unchanged == [1] and not again.created, fmt


def test_the_csv_template_filled_and_saved_by_a_chinese_excel_in_gb18030_imports(scenery):
    template = template_bytes(34, "csv").decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(template)))
    assert lines[0] == ["表34：技术资料登记表"] and lines[2] == frame(34).labels
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([*lines, valid_row(34, scenery)])
    result = _import(scenery, 34, out.getvalue().encode("gb18030"), name="t34.csv")
    row = Row.objects.get(form__form_no=result.form_no)
    assert row.data["title"] == "文本 title" and row.remarks == "备注文字"

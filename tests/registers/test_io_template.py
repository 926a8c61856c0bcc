"""The templates: the official frame, a dropdown on every enum and 是/否 column, a notes sheet per column."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.utils import translation
from openpyxl.utils import get_column_letter

from handover.registers import catalogue
from handover.registers.io.frame import frame
from handover.registers.io.template import template_bytes

NUMBERS = [spec.number for spec in catalogue.REGISTERS]


@pytest.mark.parametrize("number", NUMBERS)
def test_the_template_has_the_frame_dropdowns_and_notes(number):
    fr = frame(number)
    with translation.override("zh-hans"):  # as a Chinese page's download
        book = openpyxl.load_workbook(io.BytesIO(template_bytes(number)))
    assert book.sheetnames == [fr.title.replace("：", " "), "选项", "说明"]
    assert book["选项"].sheet_state == "hidden"
    sheet = book.worksheets[0]
    assert sheet["A1"].value == fr.title
    assert [sheet.cell(2, c).value for c in (1, 3, 5)] == ["编号", "日期", "填报单位/站点"]
    header_row = 3 + bool(fr.header_fields)
    if fr.header_fields:
        assert [sheet.cell(3, c).value for c in range(1, 2 * len(fr.header_fields), 2)] == [
            c.zh for c in fr.header_fields
        ]
    assert [sheet.cell(header_row, c).value for c in range(1, len(fr.labels) + 1)] == fr.labels

    with_list = {
        get_column_letter(1 + i) for i, c in enumerate(fr.columns, start=1) if c.type in ("enum", "bool")
    }
    validated = {
        str(dv.sqref).split(":")[0].rstrip("0123456789") for dv in sheet.data_validations.dataValidation
    }
    assert validated == with_list
    values = book["选项"]
    for dv in sheet.data_validations.dataValidation:
        column = fr.columns[
            openpyxl.utils.column_index_from_string(str(dv.sqref).split(":")[0].rstrip("0123456789")) - 2
        ]
        letter = dv.formula1.split("!$")[1].split("$")[0]
        listed = [cell.value for cell in values[letter][1:] if cell.value]
        assert listed == ([c.zh for c in column.choices] if column.type == "enum" else ["是", "否"])
        assert str(dv.sqref).split(":")[0].endswith(str(header_row + 1))

    notes = list(book["说明"].iter_rows(min_row=3, values_only=True))
    described = (*fr.header_fields, *fr.columns)
    assert len(notes) == len(described)
    for column, row in zip(described, notes, strict=True):
        zh, en, kind, required, condition, articles, _values, _note = row
        assert (zh, en) == (column.zh, column.en)
        assert kind and required.startswith(column.required)
        assert (articles or "") == "、".join(column.articles)
        if column.required_if:
            assert "、".join(column.required_if[1]) in condition
        elif column.condition:  # UX M1: the conditions are written in Chinese, no English words left
            assert condition and not re.findall(r"[A-Za-z]{3,}", condition), (column.key, condition)

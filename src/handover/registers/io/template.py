"""The blank template of a register, to fill in Excel and import: the official frame with a dropdown on every
enum and 是/否 column, and a notes sheet saying, for each column, its type, whether it is required (R/O/C),
the condition and the guideline's articles."""

from __future__ import annotations

import io
from typing import IO

import xlsxwriter
from django.utils.translation import gettext as _

from handover.registers.columns import BOOL_CHOICES, CONDITIONAL, OPTIONAL, REQUIRED, Column
from handover.registers.io.frame import FORM_DATE, FORM_NO, FORM_SITE, Frame, frame
from handover.registers.io.writers import CsvFrameWriter, XlsxFrameWriter

TEMPLATE_ROWS = 10_000  # rows the dropdowns cover


def _head(fr: Frame) -> list[list[str | None]]:
    head: list[list[str | None]] = [[FORM_NO, None, FORM_DATE, None, FORM_SITE, None]]
    if fr.header_fields:
        own: list[str | None] = []
        for column in fr.header_fields:
            own += [column.zh, None]
        head.append(own)
    return head


def type_text(column: Column) -> str:
    """How a cell of this column is written, for the notes sheet."""
    texts = {
        "text": _("text"),
        "ltext": _("long text"),
        "date": _("date, YYYY-MM-DD"),
        "dt": _("date and time, YYYY-MM-DD HH:MM"),
        "int": _("whole number"),
        "dec": _("number"),
        "enum": _("one of the listed values"),
        "bool": _("是 or 否"),
        "att": _("attachment: the file's name; upload the file on the row's page"),
    }
    if column.type in ("ref", "refs"):
        how = {
            "site": _("site code"),
            "person": _("person's name"),
            "org": _("organisation's name"),
            "system": _("system's name"),
            "asset": _("host name or fixed-asset number"),
            "account": _("login@host, or the login when the row names its system"),
            "line": _("line number"),
        }.get(
            column.ref,
            _("编号#序号 of the row in %(registers)s") % {"registers": column.ref.replace("|", "、")},
        )
        return how if column.type == "ref" else _("%(how)s; several separated by 、") % {"how": how}
    return texts[column.type]


def _required_text(column: Column) -> str:
    return {REQUIRED: _("R: required"), OPTIONAL: _("O: optional"), CONDITIONAL: _("C: conditional")}[
        column.required
    ]


def _condition_text(fr: Frame, column: Column) -> str:
    if column.required_if:
        other, values = column.required_if
        label = next((c.zh for c in fr.columns if c.key == other), other)
        return _("required when %(other)s is %(values)s") % {"other": label, "values": "、".join(values)}
    return _(column.condition) if column.condition else ""  # marked with gettext_noop in the definitions


def _choices(column: Column) -> list[str]:
    if column.type == "enum":
        return [c.zh for c in column.choices]
    if column.type == "bool":
        return [c.zh for c in BOOL_CHOICES]
    return []


def template_xlsx(register_no: int, out: str | IO[bytes]) -> None:
    """The xlsx template of 表N: the frame, dropdowns, the notes sheet and a hidden sheet of the values."""
    fr = frame(register_no)
    writer = XlsxFrameWriter(out, constant_memory=False)
    writer.begin(fr, _head(fr), fr.labels, fr.title.replace("：", " "))
    _cell_formats(writer, fr)
    _dropdowns(writer, fr)
    _notes(writer.book, fr)
    writer.close()


# Issue 17, interop review §1b: a column's cells take what is typed as the column means it. Typed in a General
# cell, 000123 becomes the number 123; a date shows (and is saved to CSV) as the locale writes it, 2020/3/15.
TEXT_TYPES = ("text", "ltext", "ref", "refs", "att")
CELL_FORMATS = {"date": "yyyy-mm-dd", "dt": "yyyy-mm-dd hh:mm"}


def _cell_formats(writer: XlsxFrameWriter, fr: Frame) -> None:
    formats = {
        "@": writer.book.add_format({"num_format": "@"}),
        **{kind: writer.book.add_format({"num_format": f}) for kind, f in CELL_FORMATS.items()},
    }
    for col, column in enumerate(fr.columns, start=1):
        kind = "@" if column.type in TEXT_TYPES else column.type
        if kind in formats:
            writer.sheet.set_column(col, col, writer.widths[col], formats[kind])


def _dropdowns(writer: XlsxFrameWriter, fr: Frame) -> None:
    values_sheet = writer.book.add_worksheet("选项")
    values_sheet.hide()
    list_col = 0
    for col, column in enumerate(fr.columns, start=1):
        values = _choices(column)
        if not values:
            continue
        values_sheet.write_string(0, list_col, column.zh)
        for r, value in enumerate(values, start=1):
            values_sheet.write_string(r, list_col, value)
        letter = xlsxwriter.utility.xl_col_to_name(list_col)
        writer.sheet.data_validation(
            writer.first_data_row,
            col,
            writer.first_data_row + TEMPLATE_ROWS - 1,
            col,
            {
                "validate": "list",
                "source": f"='选项'!${letter}$2:${letter}${len(values) + 1}",
                "error_title": column.zh,
                "error_message": _("Choose one of the listed values."),
            },
        )
        list_col += 1


def _notes(book: xlsxwriter.Workbook, fr: Frame) -> None:
    sheet = book.add_worksheet("说明")
    bold = book.add_format({"bold": True, "border": 1, "bg_color": "#E8EEF4"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    headings = [
        _("Column"),
        _("English"),
        _("Type"),
        _("Required"),
        _("Condition"),
        _("Articles"),
        _("Values"),
        _("Note"),
    ]
    sheet.write_string(0, 0, fr.title, book.add_format({"bold": True, "font_size": 14}))
    for col, heading in enumerate(headings):
        sheet.write_string(1, col, heading, bold)
    sheet.set_column(0, 1, 18)
    sheet.set_column(2, 7, 28)
    rows = [*fr.header_fields, *fr.columns]
    for r, column in enumerate(rows, start=2):
        cells = [
            column.zh,
            column.en,
            type_text(column),
            _required_text(column),
            _condition_text(fr, column),
            "、".join(column.articles),
            "、".join(_choices(column)),
            column.note,
        ]
        for col, text in enumerate(cells):
            sheet.write_string(r, col, text, wrap)


def template_csv(register_no: int, out: IO[bytes]) -> None:
    """The CSV template of 表N: title, header and the column header row (a CSV has no dropdowns)."""
    fr = frame(register_no)
    writer = CsvFrameWriter(out)
    writer.begin(fr, _head(fr), fr.labels, fr.title)
    writer.close()


def template_bytes(register_no: int, fmt: str = "xlsx") -> bytes:
    buffer = io.BytesIO()
    if fmt == "csv":
        template_csv(register_no, buffer)
    else:
        template_xlsx(register_no, buffer)
    return buffer.getvalue()

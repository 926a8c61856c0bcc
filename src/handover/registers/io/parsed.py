"""What an import found in a file: its header, its clean rows and every problem (``Issue``), and the refusal
that carries them (``ImportRefused``) with the failed rows as an xlsx to download and correct.

``parsing`` fills a ``ParsedFile``; ``applying`` writes one; ``importing`` runs both (see its docstring).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import xlsxwriter
from django.utils.translation import gettext as _

from handover.core.errors import DomainError
from handover.registers.io.frame import Frame, normalise_cell

Progress = Callable[[str, int, int], None]
ERROR_COLUMN = "错误"


@dataclass(frozen=True)
class Issue:
    """One problem: the sheet's row number (None for the file or its header), the column label, the reason."""

    row: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.column}: {self.reason}" if self.column else self.reason
        return _("Row %(row)d, %(column)s: %(reason)s") % {
            "row": self.row,
            "column": self.column or "—",
            "reason": self.reason,
        }


@dataclass
class ParsedRow:
    line: int
    seq: int | None
    data: dict[str, Any]
    remarks: str


@dataclass
class ParsedFile:
    """What a file says, checked: its header, its rows (clean values) and every problem found."""

    frame: Frame
    form_no: str = ""
    form_date: date | None = None
    header: dict[str, Any] = field(default_factory=dict)
    rows: list[ParsedRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    raw: dict[int, list[Any]] = field(default_factory=dict)


class ImportRefused(DomainError):
    """The file has problems; nothing was written. ``issues`` lists every one of them."""

    def __init__(self, parsed: ParsedFile, filename: str) -> None:
        super().__init__(
            _("%(file)s was not imported: %(n)d problems, listed by row and column; nothing was written.")
            % {"file": filename, "n": len(parsed.issues)},
            field="file",
        )
        self.parsed = parsed
        self.issues = parsed.issues

    def error_workbook(self) -> bytes:
        """The failed rows as they were in the file, each with an error column saying what is wrong."""
        return failed_rows_xlsx(self.parsed)


def failed_rows_xlsx(parsed: ParsedFile) -> bytes:
    """An xlsx of the failed rows: 行号, the cells as they were, then 错误 with every reason of the row."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(ERROR_COLUMN)
    bold = book.add_format({"bold": True})
    labels = parsed.labels or parsed.frame.labels
    sheet.write_string(0, 0, parsed.frame.title, bold)
    header = [_("Row"), *labels, ERROR_COLUMN]
    for col, label in enumerate(header):
        sheet.write_string(1, col, label, bold)
    by_row: dict[int | None, list[str]] = {}
    for issue in parsed.issues:
        by_row.setdefault(issue.row, []).append(
            f"{issue.column}：{issue.reason}" if issue.column else issue.reason
        )
    r = 2
    for line in sorted(by_row, key=lambda n: -1 if n is None else n):
        if line is not None:
            sheet.write_number(r, 0, line)
            for col, cell in enumerate(parsed.raw.get(line, [])[: len(labels)], start=1):
                value = normalise_cell(cell)
                if value is not None:
                    sheet.write_string(r, col, str(value))
        sheet.write_string(r, len(header) - 1, "；".join(by_row[line]))
        r += 1
    book.close()
    return buffer.getvalue()

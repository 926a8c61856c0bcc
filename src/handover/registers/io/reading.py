"""Reading a register file into rows of cells: xlsx with python-calamine (Rust; ~12× faster than openpyxl
on a 100,000-row sheet, DESIGN.md), CSV in UTF-8 or, as Excel saves it on a Chinese Windows, GB18030."""

from __future__ import annotations

import csv
import io
from pathlib import PurePath
from typing import Any

from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook

from handover.core.errors import DomainError

MAX_BYTES = 50 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"


def read_table(filename: str, content: bytes) -> list[list[Any]]:
    """The sheet of an xlsx holding the frame (else its first), or a CSV, as rows of cells."""
    if len(content) > MAX_BYTES:
        raise DomainError(
            _("%(file)s is larger than %(mb)d MB; split it by site.")
            % {"file": filename, "mb": MAX_BYTES >> 20},
            field="file",
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        return _csv(filename, content)
    if suffix in (".xlsx", ".xlsm") or content.startswith(XLSX_MAGIC):
        return _xlsx(filename, content)
    raise DomainError(_("%(file)s is neither an xlsx nor a CSV file.") % {"file": filename}, field="file")


def _xlsx(filename: str, content: bytes) -> list[list[Any]]:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        if not workbook.sheet_names:
            raise DomainError(_("%(file)s has no sheet.") % {"file": filename}, field="file")
        first: list[list[Any]] | None = None
        for index in range(len(workbook.sheet_names)):
            table = [list(row) for row in workbook.get_sheet_by_index(index).to_python(skip_empty_area=False)]
            if any(cells and str(cells[0]).strip() == "序号" for cells in table[:20]):
                return table  # the sheet with the frame, wherever it is in the workbook
            first = table if first is None else first
        return first or []
    except (CalamineError, ValueError, OSError) as exc:
        raise DomainError(
            _("%(file)s cannot be read as an xlsx workbook (%(reason)s).")
            % {"file": filename, "reason": exc},
            field="file",
        ) from None


def _csv(filename: str, content: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError(_("%(file)s is neither UTF-8 nor GB18030 text.") % {"file": filename}, field="file")
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]

"""Reading a register file into rows of cells: xlsx with python-calamine (Rust; ~12× faster than openpyxl
on a 100,000-row sheet, DESIGN.md), CSV in UTF-8 or, as Excel saves it on a Chinese Windows, GB18030.

Reading is bounded (DESIGN.md decision 10): a file larger than ``HANDOVER_IMPORT_MAX_BYTES`` is refused
before it is opened, and only ``Bounds.columns`` cells of ``Bounds.rows`` rows are ever kept. calamine builds
a sheet as one dense rectangle from its first to its last cell (a 1.5 KB xlsx with a value at XFD2000 asks
for 1 GB; one at XFD1048576 for 512 GB, and Rust aborts the process, no MemoryError). So before calamine
loads a sheet, the sheet's XML is streamed (``cell_beyond``) and a cell right of the register's columns or
below its rows refuses the file, naming the sheet and the cell; what calamine then builds is no larger than
the register's frame. A CSV record is likewise cut off at the bound while it is read.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

import xlrd
from django.conf import settings
from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook

from handover.core.errors import DomainError

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file: Excel 97-2003 (BIFF8), WPS's .xls
HEAD_ROWS = 40  # rows a file may have besides its data rows: title, form header, column header, footer
SHEET_XML_MAX_BYTES = 2 << 30  # a sheet's XML unpacked; 200,000 rows of a wide register are ~400 MB
_CHUNK = 1 << 22
_ELEMENT_MAX = 1 << 20
_FRAME_SEARCH_ROWS = 20

# The fast path of cell_beyond reads cells as every writer we know writes them, <c r="A1" ...>: r first,
# in double quotes, so that a '>' or a quote elsewhere in the tag cannot hide it. One search per chunk finds
# any cell written otherwise, or whose reference is not within the bounds (``_outside``).
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_REF_AT = re.compile(rb'([A-Z]{1,3})([0-9]{1,7})"')
# A cell ending in /> after plain attributes holds no value; calamine leaves it out (a styled blank).
_EMPTY_REST = re.compile(rb'(?: [a-z]+="[0-9A-Za-z]*")*/>')
_CELL_REF = re.compile(r"^([A-Za-z]{1,3})([0-9]{1,7})$")


@dataclass(frozen=True)
class Bounds:
    """What an import reads of a sheet: ``columns`` cells per row, and ``max_rows`` data rows."""

    columns: int
    max_rows: int

    @property
    def rows(self) -> int:
        return self.max_rows + HEAD_ROWS


def max_bytes() -> int:
    """The largest file an import opens (``HANDOVER_IMPORT_MAX_BYTES``)."""
    return int(settings.HANDOVER_IMPORT_MAX_BYTES)


def read_table(filename: str, content: bytes, *, bounds: Bounds) -> list[list[Any]]:
    """The sheet of an xlsx holding the frame (else its first), or a CSV, as rows of at most
    ``bounds.columns`` cells; a file larger than the bounds is refused, naming the place."""
    if len(content) > max_bytes():
        raise DomainError(
            _("%(file)s is larger than %(mb)d MB; split it by site.")
            % {"file": filename, "mb": max_bytes() >> 20},
            field="file",
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        return _csv(filename, content, bounds)
    if suffix in (".xlsx", ".xlsm") or content.startswith(XLSX_MAGIC):
        return _xlsx(filename, content, bounds)
    if suffix == ".xls" or content.startswith(XLS_MAGIC):
        return _xls(filename, content, bounds)
    raise DomainError(
        _("%(file)s is neither an xlsx, an xls nor a CSV file.") % {"file": filename}, field="file"
    )


class TooManyRows(DomainError):
    """The file has more data rows than an import takes (``max_rows``)."""

    def __init__(self, message: str, *, max_rows: int) -> None:
        super().__init__(message, field="file")
        self.max_rows = max_rows


def too_many_rows(filename: str, sheet: str | None, bounds: Bounds) -> TooManyRows:
    """The refusal of a file with more rows than an import takes."""
    if sheet is None:
        message = _("%(file)s: more than %(max)d rows; an import takes at most %(max)d. Split the file.")
    else:
        message = _(
            "%(file)s, sheet %(sheet)s: more than %(max)d rows; an import takes at most %(max)d. Split the file."
        )
    return TooManyRows(
        message % {"file": filename, "sheet": sheet, "max": bounds.max_rows}, max_rows=bounds.max_rows
    )


# -- xlsx ------------------------------------------------------------------------------------------------
def _not_xlsx(filename: str, reason: object) -> DomainError:
    return DomainError(
        _("%(file)s cannot be read as an xlsx workbook (%(reason)s).") % {"file": filename, "reason": reason},
        field="file",
    )


def _xlsx(filename: str, content: bytes, bounds: Bounds) -> list[list[Any]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        parts = _sheet_parts(archive)
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        if not workbook.sheet_names or not parts:
            raise DomainError(_("%(file)s has no sheet.") % {"file": filename}, field="file")
        first: list[list[Any]] | None = None
        for index, name in enumerate(workbook.sheet_names):
            part = parts.get(name)
            if part is None:
                raise _not_xlsx(filename, _("sheet %(sheet)s has no part") % {"sheet": name})
            _check_extent(filename, name, archive, part, bounds)
            table = _rows(workbook.get_sheet_by_index(index), filename, name, bounds)
            if any(cells and str(cells[0]).strip() == "序号" for cells in table[:_FRAME_SEARCH_ROWS]):
                return table  # the sheet with the frame, wherever it is in the workbook
            first = table if first is None else first
        return first or []
    except (
        CalamineError,
        ValueError,
        OSError,
        KeyError,
        zipfile.BadZipFile,
        xml.parsers.expat.ExpatError,
        # A member that does not inflate or is cut short, or that zipfile cannot open (a version it does not
        # know: NotImplementedError; an encrypted member: RuntimeError). Each found by the fuzzer (issue 18).
        zlib.error,
        EOFError,
        RuntimeError,
    ) as exc:
        raise _not_xlsx(filename, exc) from None


def _attributes(archive: zipfile.ZipFile, part: str, element: str) -> list[dict[str, str]]:
    """The attributes of every ``element`` of a small part of the package (workbook.xml, its rels)."""
    found: list[dict[str, str]] = []
    parser = xml.parsers.expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        if name.rpartition(":")[2] == element:
            found.append({key.rpartition(":")[2]: value for key, value in attrs.items()})

    parser.StartElementHandler = start
    with archive.open(part) as stream:
        parser.Parse(stream.read(_ELEMENT_MAX * 4), True)
    return found


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → the path of its XML in the package, as calamine finds it (workbook.xml and its rels)."""
    targets = {
        rel.get("Id", ""): rel.get("Target", "")
        for rel in _attributes(archive, "xl/_rels/workbook.xml.rels", "Relationship")
    }
    parts: dict[str, str] = {}
    for sheet in _attributes(archive, "xl/workbook.xml", "sheet"):
        target = targets.get(sheet.get("id", ""), "")
        if target.startswith("/"):
            path = target[1:]
        elif target.startswith("xl/"):
            path = target
        else:
            path = posixpath.normpath(posixpath.join("xl", target))
        parts[sheet.get("name", "")] = path
    return parts


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _check_extent(filename: str, sheet: str, archive: zipfile.ZipFile, part: str, bounds: Bounds) -> None:
    """Refuse a sheet with a value right of the register's columns or below its rows, before calamine
    builds its rectangle."""
    far = cell_beyond(archive, part, bounds)
    if far is None:
        return
    row, column = far
    if column > bounds.columns:
        raise _right_of_table(filename, sheet, row, column, bounds)
    raise too_many_rows(filename, sheet, bounds)


def _right_of_table(filename: str, sheet: str, row: int, column: int, bounds: Bounds) -> DomainError:
    """The refusal of a value right of the register's columns, at (row, column), 1-based (xlsx and xls)."""
    return DomainError(
        _(
            "%(file)s, sheet %(sheet)s, cell %(cell)s: a value right of the register's columns "
            "(at most %(columns)d columns are read). Delete the cells right of the table and import again."
        )
        % {
            "file": filename,
            "sheet": sheet,
            "cell": f"{_column_letters(column)}{row}",
            "columns": bounds.columns,
        },
        field="file",
    )


def _at_most(number: str, digit: str) -> str:
    """A regular expression for the strings of len(number) ``digit``s that are at most ``number``, the
    characters of ``digit`` (a class such as [0-9] or [A-Z]) ordered as by their code."""
    low = digit[1]
    options = [
        f"{number[:i]}[{low}-{chr(ord(c) - 1)}]{digit}{{{len(number) - i - 1}}}"
        for i, c in enumerate(number)
        if c != low
    ]
    return "|".join([*options, number])


def _outside(bounds: Bounds) -> re.Pattern[bytes]:
    """A cell tag not written as <c r="A1" with A1 within ``bounds``."""
    letters, rows = _column_letters(bounds.columns), str(bounds.rows)
    column = f"[A-Z]{{1,{len(letters) - 1}}}|{_at_most(letters, '[A-Z]')}" if len(letters) > 1 else ""
    column = column or _at_most(letters, "[A-Z]")
    row = f"[1-9][0-9]{{0,{len(rows) - 2}}}|{_at_most(rows, '[0-9]')}" if len(rows) > 1 else ""
    row = row or _at_most(rows, "[0-9]")
    return re.compile(f'<c(?:[\t\n\r/>]| (?!r=")| r="(?!(?:{column})(?:{row})"))'.encode())


def cell_beyond(archive: zipfile.ZipFile, part: str, bounds: Bounds) -> tuple[int, int] | None:
    """(row, column), 1-based, of a cell holding a value right of ``bounds.columns`` or below
    ``bounds.rows``, or None. Streams the sheet's XML in chunks and stops at the first such cell.

    The fast path searches the r="A1" of the cells with one regular expression per chunk. When some cell is
    written otherwise (no r, which the standard allows: its place is then counted from the previous one; a
    namespace prefix; r not first), the sheet is read again with an XML parser that places cells as
    calamine does."""
    outside = _outside(bounds)
    with archive.open(part) as stream:
        for chunk in _tag_chunks(stream):
            if b":c" in chunk and _PREFIXED_CELL.search(chunk):
                return _beyond_by_parser(archive, part, bounds)
            found = outside.search(chunk)
            while found:
                ref = _REF_AT.match(chunk, found.end()) if found[0].endswith(b'"') else None
                if ref is None:
                    return _beyond_by_parser(archive, part, bounds)
                if not _EMPTY_REST.match(chunk, ref.end()):
                    return int(ref[2]), _column_number(ref[1].decode())
                found = outside.search(chunk, ref.end())
    return None


def _tag_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """The XML in chunks that each end before a '<', so no tag is cut in two (a '<' never occurs inside a
    tag); an element longer than 1 MB, or more XML than SHEET_XML_MAX_BYTES, is not a register's sheet."""
    carry = b""
    total = 0
    while block := stream.read(_CHUNK):
        total += len(block)
        if total > SHEET_XML_MAX_BYTES:
            raise ValueError(_("a sheet larger than %(mb)d MB unpacked") % {"mb": SHEET_XML_MAX_BYTES >> 20})
        data = carry + block
        cut = data.rfind(b"<")
        if cut <= 0:
            carry = data
        else:
            yield data[:cut]
            carry = data[cut:]
        if len(carry) > _ELEMENT_MAX:
            raise ValueError(_("an element longer than 1 MB"))
    if carry:
        yield carry


def _beyond_by_parser(archive: zipfile.ZipFile, part: str, bounds: Bounds) -> tuple[int, int] | None:
    """cell_beyond for cells without r: every cell placed as calamine places it (after the previous one
    of its row, rows after the previous row)."""
    state = {"row": 0, "column": 0, "far_row": 0, "far_column": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "row":
            given = attrs.get("r", "")
            state["row"] = int(given) if given.isdigit() and len(given) < 8 else state["row"] + 1
            state["column"] = 0
        elif local == "c":
            match = _CELL_REF.match(attrs.get("r", ""))
            row = int(match[2]) if match else state["row"]
            state["column"] = _column_number(match[1]) if match else state["column"] + 1
            if row > bounds.rows or state["column"] > bounds.columns:
                state["far_row"], state["far_column"] = row, state["column"]
                raise _Far

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    try:
        with archive.open(part) as stream:
            for chunk in _tag_chunks(stream):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Far:
        return state["far_row"], state["far_column"]
    return None


class _Far(Exception):
    """A cell past the bounds: the rest of the sheet need not be read."""


def _rows(sheet: Any, filename: str, name: str, bounds: Bounds) -> list[list[Any]]:
    """The sheet as rows from A1 (calamine's range starts at its first cell), cut to ``bounds``."""
    first_row, first_column = sheet.start if sheet.height else (0, 0)
    pad = [""] * first_column
    table: list[list[Any]] = [[] for _i in range(first_row)]
    for cells in sheet.iter_rows():
        if len(table) >= bounds.rows:
            raise too_many_rows(filename, name, bounds)
        table.append((pad + cells)[: bounds.columns] if pad else cells[: bounds.columns])
    return table


# -- xls (Excel 97-2003) ---------------------------------------------------------------------------------
# Issue 17 / interop review §1b: what Excel 97-2003 and WPS save as .xls is read by xlrd, with ragged rows so a
# single far cell costs one cell, not the rectangle up to it (calamine builds that rectangle: up to 65,536 x 256
# cells for a .xls, which the xlsx path bounds by reading the sheet's XML first, and a .xls has no such XML).
def _not_xls(filename: str, reason: object) -> DomainError:
    return DomainError(
        _("%(file)s cannot be read as an Excel 97-2003 (xls) workbook (%(reason)s).")
        % {"file": filename, "reason": reason},
        field="file",
    )


def _xls(filename: str, content: bytes, bounds: Bounds) -> list[list[Any]]:
    try:
        book = xlrd.open_workbook(
            file_contents=content,
            on_demand=True,
            ragged_rows=True,
            formatting_info=False,
            logfile=io.StringIO(),
        )
    except Exception as exc:
        raise _not_xls(filename, exc) from None
    try:
        first: list[list[Any]] | None = None
        for index in range(book.nsheets):
            try:
                sheet = book.sheet_by_index(index)
            except Exception as exc:
                raise _not_xls(filename, exc) from None
            table = _xls_rows(book, sheet, filename, bounds)
            if any(cells and str(cells[0]).strip() == "序号" for cells in table[:_FRAME_SEARCH_ROWS]):
                return table
            first = table if first is None else first
            book.unload_sheet(index)
        return first or []
    finally:
        book.release_resources()


def _xls_rows(book: Any, sheet: Any, filename: str, bounds: Bounds) -> list[list[Any]]:
    if sheet.nrows > bounds.rows:
        raise too_many_rows(filename, sheet.name, bounds)
    table: list[list[Any]] = []
    for r in range(sheet.nrows):
        cells = [_xls_value(book, sheet.cell(r, c)) for c in range(sheet.row_len(r))]
        far = next((c for c in range(len(cells) - 1, bounds.columns - 1, -1) if cells[c] != ""), None)
        if far is not None:
            raise _right_of_table(filename, sheet.name, r + 1, far + 1, bounds)
        table.append(cells[: bounds.columns])
    return table


def _xls_value(book: Any, cell: Any) -> Any:
    """A cell as calamine gives an xlsx's: text, a number, a bool, a date or a date-time, "" for nothing."""
    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    if kind == xlrd.XL_CELL_DATE:
        try:
            moment = xlrd.xldate_as_datetime(value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return value
        return moment.date() if moment.time() == moment.time().min else moment
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    return value


# -- CSV -------------------------------------------------------------------------------------------------
def _csv(filename: str, content: bytes, bounds: Bounds) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError(_("%(file)s is neither UTF-8 nor GB18030 text.") % {"file": filename}, field="file")
    lines = _BoundedLines(io.StringIO(text, newline=""), bounds.columns + 1)
    table: list[list[Any]] = []
    try:
        for record in csv.reader(lines):
            if len(table) >= bounds.rows:
                raise too_many_rows(filename, None, bounds)
            table.append(record[: bounds.columns])
            lines.commas = 0
    except _Far:
        raise DomainError(
            _("%(file)s, row %(row)d: more than %(columns)d columns; at most %(columns)d columns are read.")
            % {"file": filename, "row": len(table) + 1, "columns": bounds.columns},
            field="file",
        ) from None
    except csv.Error as exc:
        raise DomainError(
            _("%(file)s, row %(row)d: not a valid CSV record (%(reason)s).")
            % {"file": filename, "row": len(table) + 1, "reason": exc},
            field="file",
        ) from None
    return table


class _BoundedLines:
    """The lines of a CSV, refusing a record with more separators than the columns read: csv.reader would
    make a list of every field of a line of 50 MB of commas before the record could be cut."""

    def __init__(self, text: IO[str], columns: int) -> None:
        self.text = text
        self.limit = columns * 4 + 10_000  # room for commas inside quoted cells
        self.commas = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline()
        if not line:
            raise StopIteration
        self.commas += line.count(",")
        if self.commas > self.limit:
            raise _Far
        return line

"""Writers of the official frame in xlsx, CSV and PDF: one section per form, rows streamed in order.

The xlsx writer is xlsxwriter in ``constant_memory`` mode, so a 100,000-row register costs the memory of a
row, not of the sheet; strings are never taken for formulas, URLs or numbers, so free text stays text
whatever it starts with. The PDF is the same frame as HTML rendered by WeasyPrint with the Noto CJK font
(Debian's fonts-noto-cjk; libharfbuzz-subset0 makes the embedding ~30× faster, DESIGN.md).
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import IO, Any, Protocol

import xlsxwriter
from django.utils.translation import gettext

from handover.core import clock
from handover.core.moments import moment_text, zone_name
from handover.core.spreadsheet import text_for_csv
from handover.registers.io.frame import Frame

Cells = Sequence[Any]


class FrameWriter(Protocol):
    def begin(self, frame: Frame, head: Sequence[Cells], labels: list[str], name: str) -> None: ...
    def row(self, cells: Cells) -> None: ...
    def end(self, footer: Sequence[Cells]) -> None: ...
    def close(self) -> None: ...


WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique worksheet name (≤ 31 characters, none of []:*?/\\)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "Sheet"
    candidate, n = clean, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{clean[: 31 - len(str(n)) - 1]}~{n}"
    taken.add(candidate.lower())
    return candidate


class XlsxFrameWriter:
    """The frame into an xlsx workbook, one worksheet per section."""

    def __init__(self, out: str | IO[bytes], *, constant_memory: bool = True) -> None:
        options = {**WORKBOOK_OPTIONS, "constant_memory": constant_memory}
        self.book = xlsxwriter.Workbook(out, options)
        self.title_format = self.book.add_format({"bold": True, "font_size": 14})
        self.label_format = self.book.add_format({"bold": True})
        self.header_format = self.book.add_format({"bold": True, "border": 1, "bg_color": "#E8EEF4"})
        self._names: set[str] = set()
        self.sheet: Any = None
        self.next_row = 0
        self.first_data_row = 0
        self.widths: list[float] = []

    def begin(self, frame: Frame, head: Sequence[Cells], labels: list[str], name: str) -> None:
        self.sheet = self.book.add_worksheet(sheet_name(name, self._names))
        widths = [6.0] + [16.0] * (len(labels) - 1)
        for cells in head:  # a header's value (the form number) is not cut by the label beside it
            for col, value in enumerate(cells[: len(widths)]):
                if value is not None:
                    widths[col] = max(widths[col], _text_width(str(value)) + 2)
        for col, width in enumerate(widths):
            self.sheet.set_column(col, col, width)
        self.widths = widths
        self.sheet.write_string(0, 0, frame.title, self.title_format)
        self.next_row = 1
        for cells in head:
            for col, value in enumerate(cells):
                if value is not None:
                    fmt = self.label_format if col % 2 == 0 else None
                    self.sheet.write_string(self.next_row, col, str(value), fmt)
            self.next_row += 1
        for col, label in enumerate(labels):
            self.sheet.write_string(self.next_row, col, label, self.header_format)
        self.sheet.freeze_panes(self.next_row + 1, 1)
        _print_setup(self.sheet, columns=len(labels), header_row=self.next_row)
        self.next_row += 1
        self.first_data_row = self.next_row

    def row(self, cells: Cells) -> None:
        sheet, r = self.sheet, self.next_row
        for col, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(r, col, value)
            elif isinstance(value, Decimal | int | float):
                sheet.write_number(r, col, float(value))
            else:
                sheet.write_string(r, col, str(value))
        self.next_row = r + 1

    def end(self, footer: Sequence[Cells]) -> None:
        if footer:
            self.next_row += 1
        for cells in footer:
            for col, value in enumerate(cells):
                if value:
                    self.sheet.write_string(
                        self.next_row, col, str(value), self.label_format if col == 0 else None
                    )
            self.next_row += 1
        if footer:  # UX review M2: the zone named once per sheet; an import stops at the footer, before it
            self.sheet.write_string(self.next_row, 0, _zone_note())
            self.next_row += 1

    def close(self) -> None:
        self.book.close()


class CsvFrameWriter:
    """The frame as CSV in UTF-8 with a byte-order mark (so Excel reads the Chinese); sections one after another."""

    def __init__(self, out: IO[bytes]) -> None:
        self.text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
        self.csv = csv.writer(self.text)
        self.sections = 0

    @staticmethod
    def _cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return text_for_csv(value)
        return str(value)

    def begin(self, frame: Frame, head: Sequence[Cells], labels: list[str], name: str) -> None:
        if self.sections:
            self.csv.writerow([])
        self.sections += 1
        self.csv.writerow([frame.title])
        for cells in head:
            self.csv.writerow([self._cell(v) for v in cells])
        self.csv.writerow(labels)

    def row(self, cells: Cells) -> None:
        self.csv.writerow([self._cell(v) for v in cells])

    def end(self, footer: Sequence[Cells]) -> None:
        if footer:
            self.csv.writerow([])
        for cells in footer:
            self.csv.writerow([self._cell(v) for v in cells])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


def _zone_note() -> str:
    return gettext("Times are %(zone)s.") % {"zone": zone_name()}


def _printed_note() -> str:
    return gettext("Exported %(at)s") % {"at": moment_text(clock.now())}


def _text_width(text: str) -> float:
    """Columns a text takes in a spreadsheet, a CJK character as two."""
    return float(sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text))


WIDE_FORM = 12  # columns beyond which a form prints on A3 rather than A4


def _print_setup(sheet: Any, *, columns: int, header_row: int) -> None:
    """Issue 17: the sheet prints as the form it is, in LibreOffice, WPS and Excel: landscape, every column on
    one page's width (A3 for a wide form), the column header repeated on each page, page numbers and the
    export's time in the footer."""
    sheet.set_landscape()
    sheet.set_paper(8 if columns > WIDE_FORM else 9)  # 8: A3, 9: A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    sheet.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    printed = _printed_note().replace("&", "&&")
    sheet.set_footer(f"&L{printed}&R&P / &N")


PDF_STYLE = """
@page { size: PAGE_SIZE landscape; margin: 12mm 10mm;
  @bottom-left { content: PRINTED; font-family: "Noto Sans CJK SC", sans-serif; font-size: 7pt; }
  @bottom-right { content: counter(page) " / " counter(pages); font-family: "Noto Sans CJK SC", sans-serif;
                  font-size: 7pt; } }
span.token { white-space: nowrap; }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 7.5pt; }
section + section { break-before: page; }
h1 { font-size: 13pt; text-align: center; margin: 0 0 4mm; }
p.head span { margin-right: 8mm; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #444; padding: 1pt 2pt; vertical-align: top; }
th { white-space: nowrap; background: #eee; }
thead { display: table-header-group; }
p.footer span { display: inline-block; margin-right: 10mm; margin-top: 4mm; }
"""


# A host name, a media or form number: a token with a dash or a dot that a line must not break inside
# (UX review L4: "hz-/hq01", "BR-HZ-/HD-0101").
_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:[-.#:@/][A-Za-z0-9_]+)+")
UNBROKEN_MAX = 32


def _unbroken(text: str) -> str:
    out, last = [], 0
    for match in _TOKEN.finditer(text):
        if len(match.group(0)) > UNBROKEN_MAX:
            continue  # a long path or address may break, or it would push the table off the page
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<span class="token">{html.escape(match.group(0))}</span>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


class PdfFrameWriter:
    """The frame as HTML pages, rendered to PDF by WeasyPrint when closed."""

    def __init__(self, out: str | IO[bytes]) -> None:
        self.out = out
        self.parts: list[str] = []
        self.widest = 0

    def begin(self, frame: Frame, head: Sequence[Cells], labels: list[str], name: str) -> None:
        self.widest = max(self.widest, len(labels))
        esc = html.escape
        self.parts.append(f"<section><h1>{esc(frame.title)}</h1>")
        for cells in head:
            pairs = [
                f"<span>{esc(str(cells[i]))}：{esc('' if cells[i + 1] is None else str(cells[i + 1]))}</span>"
                for i in range(0, len(cells) - 1, 2)
            ]
            self.parts.append(f'<p class="head">{"".join(pairs)}</p>')
        header = "".join(f"<th>{esc(label)}</th>" for label in labels)
        self.parts.append(f"<table><thead><tr>{header}</tr></thead><tbody>")

    def row(self, cells: Cells) -> None:
        tds = "".join(f"<td>{'' if v is None else _unbroken(str(v))}</td>" for v in cells)
        self.parts.append(f"<tr>{tds}</tr>")

    def end(self, footer: Sequence[Cells]) -> None:
        self.parts.append("</tbody></table><p class='footer'>")
        for cells in footer:
            text = " ".join(str(v) for v in cells[1:] if v)
            self.parts.append(f"<span>{html.escape(str(cells[0]))}：{html.escape(text)}</span>")
        self.parts.append(f"<span>{html.escape(_zone_note())}</span></p></section>")

    def close(self) -> None:
        from weasyprint import HTML  # imported late: it loads Pango, which only PDF exports need

        size = "A4" if self.widest <= WIDE_FORM else "A3"
        printed = '"' + _printed_note().replace("\\", "").replace('"', "") + '"'
        style = PDF_STYLE.replace("PAGE_SIZE", size).replace("PRINTED", printed)
        document = (
            f"<!doctype html><html lang='zh-Hans'><head><meta charset='utf-8'>"
            f"<style>{style}</style></head><body>{''.join(self.parts)}</body></html>"
        )
        HTML(string=document).write_pdf(target=self.out)

"""Parsing an import file: a table of cells checked against 表N's frame into a ``ParsedFile``.

The header row is checked strictly (a missing, unknown or repeated column is named by its label), then every
row is parsed, its references resolved and its values checked (``validation.clean_row`` and the registers'
rules) before anything is written; every problem is collected, never only the first.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org.models import Engagement, Site
from handover.registers import catalogue, rules, services
from handover.registers.columns import Column
from handover.registers.io.frame import (
    FORM_DATE,
    FORM_NO,
    FORM_SITE,
    REMARKS,
    ROW_SIGNATURE_LABELS,
    SEQ,
    frame,
    is_footer,
    normalise_cell,
    row_is_empty,
    split_list,
)
from handover.registers.io.parsed import Issue, ParsedFile, ParsedRow, Progress
from handover.registers.io.reading import Bounds, too_many_rows
from handover.registers.io.refs import References
from handover.registers.models import Form
from handover.registers.validation import clean_row, looks_like_credential, parse_day

_TITLE = re.compile(r"^表(\d+)\s*[：:]")
_HEADER_SEARCH_ROWS = 20
PROGRESS_EVERY = 500
COLUMN_MARGIN = 10  # empty or note columns people leave right of the table


def bounds(register_no: int, max_rows: int | None = None) -> Bounds:
    """What an import of 表N reads: the frame's columns (or its form header, when that is wider) and a
    margin, and at most ``max_rows`` data rows (default ``HANDOVER_IMPORT_MAX_ROWS``)."""
    fr = frame(register_no)
    width = max(len(fr.export_labels), 6, 2 * len(fr.header_fields))
    cap = int(settings.HANDOVER_IMPORT_MAX_ROWS) if max_rows is None else max_rows
    return Bounds(columns=width + COLUMN_MARGIN, max_rows=cap)


def _clean_label(value: Any) -> str:
    return str(value).strip().rstrip("：:").strip() if value is not None else ""


def _find_header_row(table: list[list[Any]]) -> int | None:
    for index, cells in enumerate(table[:_HEADER_SEARCH_ROWS]):
        if cells and _clean_label(cells[0]) == SEQ:
            return index
    return None


def _check_title(parsed: ParsedFile, table: list[list[Any]], header_row: int) -> None:
    for cells in table[:header_row]:
        for cell in cells:
            match = _TITLE.match(str(cell or "").strip())
            if match and int(match[1]) != parsed.frame.number:
                parsed.issues.append(
                    Issue(
                        None,
                        "",
                        _("This file is the frame of 表%(found)s, not of 表%(wanted)d.")
                        % {"found": match[1], "wanted": parsed.frame.number},
                    )
                )
                return


def _map_columns(parsed: ParsedFile, header: list[Any]) -> dict[str, int]:
    """Label → column index; a missing, unknown or repeated label is an issue."""
    expected = parsed.frame.labels
    ignored = set(ROW_SIGNATURE_LABELS.values()) if parsed.frame.dual_signature else set()
    found: dict[str, int] = {}
    parsed.labels = [_clean_label(cell) for cell in header]
    while parsed.labels and not parsed.labels[-1]:
        parsed.labels.pop()
    for index, label in enumerate(parsed.labels):
        if not label:
            continue
        if label in found:
            parsed.issues.append(Issue(None, label, _("This column appears twice.")))
        elif label not in expected and label not in ignored:
            parsed.issues.append(
                Issue(None, label, _("No such column in 表%(n)d.") % {"n": parsed.frame.number})
            )
        found[label] = index
    for label in expected:
        if label not in found:
            parsed.issues.append(Issue(None, label, _("This column is missing from the header row.")))
    return found


def _header_values(parsed: ParsedFile, table: list[list[Any]], header_row: int) -> dict[str, Any]:
    """Label → value of the label/value pairs above the column header row."""
    values: dict[str, Any] = {}
    for cells in table[1:header_row] if header_row else []:
        for index, cell in enumerate(cells[:-1]):
            label = _clean_label(cell)
            if label:
                values.setdefault(label, normalise_cell(cells[index + 1]))
    return values


def _read_header(parsed: ParsedFile, values: dict[str, Any], site: Site) -> None:
    parsed.form_no = str(values.get(FORM_NO) or "").strip()
    when = values.get(FORM_DATE)
    if isinstance(when, datetime):
        parsed.form_date = when.date()
    elif isinstance(when, date):
        parsed.form_date = when
    elif when is not None:
        try:
            parsed.form_date = parse_day(str(when))
        except ValueError:
            parsed.issues.append(Issue(None, FORM_DATE, _("Not a valid value; expected YYYY-MM-DD.")))
    named = str(values.get(FORM_SITE) or "").strip()
    if named and named not in (
        site.code,
        site.name,
        f"{site.name}（{site.code}）",
        f"{site.name} ({site.code})",
    ):
        parsed.issues.append(
            Issue(
                None,
                FORM_SITE,
                _("The file is for %(named)s, but is being imported for %(site)s (%(code)s).")
                % {"named": named, "site": site.name, "code": site.code},
            )
        )
    own = {
        c.key: values.get(c.zh) for c in parsed.frame.header_fields if c.type not in ("att", "ref", "refs")
    }
    given = tuple(c for c in parsed.frame.header_fields if own.get(c.key) is not None)
    clean, errors = clean_row(given, {k: v for k, v in own.items() if v is not None})
    parsed.header = clean
    by_key = {c.key: c for c in parsed.frame.header_fields}
    for key, messages in errors.items():
        parsed.issues += [Issue(None, by_key[key].zh, message) for message in messages]


def _as_text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class _RowReader:
    """One data row of the sheet → clean values, with its problems."""

    def __init__(
        self, parsed: ParsedFile, positions: dict[str, int], refs: References, site: Site, form: Form
    ) -> None:
        self.parsed = parsed
        self.form = form
        self.refs = refs
        self.site_id = site.pk
        self.columns = [(c, positions[c.zh]) for c in parsed.frame.columns]
        self.seq_at = positions[SEQ]
        self.remarks_at = positions[REMARKS]

    @staticmethod
    def _cell(cells: list[Any], index: int) -> Any:
        return normalise_cell(cells[index]) if index < len(cells) else None

    def read(self, line: int, cells: list[Any]) -> ParsedRow | None:
        issues: list[Issue] = []
        data: dict[str, Any] = {}
        failed: set[str] = set()
        for column, index in self.columns:
            value = self._cell(cells, index)
            if value is None:
                continue
            try:
                data[column.key] = self._value(column, value, data)
            except LookupError as exc:
                issues.append(Issue(line, column.zh, str(exc.args[0])))
                failed.add(column.key)
        labels = {c.key: c.zh for c, _i in self.columns}
        try:
            clean, errors = services.row_check(form=self.form, data=data, with_rules=not issues)
        except rules.RuleViolation as exc:
            clean, errors = {}, {}
            issues.append(Issue(line, labels.get(exc.field or "", ""), str(exc.message)))
        for key, messages in errors.items():
            if key not in failed:
                issues += [Issue(line, labels[key], message) for message in messages]
        seq = self._seq(line, cells, issues)
        remarks = str(_as_text(self._cell(cells, self.remarks_at)) or "")
        if remarks and looks_like_credential(remarks):
            issues.append(
                Issue(
                    line,
                    REMARKS,
                    _("This looks like a password or other secret; registers never hold secrets."),
                )
            )
        if issues:
            self.parsed.issues += issues
            self.parsed.raw[line] = cells
            return None
        return ParsedRow(line=line, seq=seq, data=clean, remarks=remarks)

    def _seq(self, line: int, cells: list[Any], issues: list[Issue]) -> int | None:
        value = self._cell(cells, self.seq_at)
        if value is None:
            return None
        if isinstance(value, int) and value > 0:
            return value
        if isinstance(value, str) and value.isdecimal() and int(value) > 0:
            return int(value)
        issues.append(Issue(line, SEQ, _("Enter a whole number.")))
        return None

    def _value(self, column: Column, value: Any, row: dict[str, Any]) -> Any:
        if column.type == "ref":
            return self.refs.resolve(column, str(_as_text(value)), site_id=self.site_id, row=row)
        if column.type == "refs":
            return [
                self.refs.resolve(column, item, site_id=self.site_id, row=row)
                for item in split_list(_as_text(value))
            ]
        if column.type in ("text", "ltext", "att", "enum"):
            return _as_text(value)
        return value


def row_key(spec_key: tuple[str, ...], row: ParsedRow) -> str | None:
    """What identifies a row within its form: its natural key's values, else its 序号 (None: neither)."""
    values = [row.data.get(k) for k in spec_key]
    if spec_key and any(v is not None for v in values):
        return json.dumps(values, sort_keys=True, ensure_ascii=False)
    return None if row.seq is None else f"#{row.seq}"


def _check_duplicates(parsed: ParsedFile) -> None:
    spec_key = catalogue.get(parsed.frame.number).natural_key
    labels = "、".join(c.zh for c in parsed.frame.columns if c.key in spec_key) or SEQ
    first: dict[str, int] = {}
    for row in parsed.rows:
        key = row_key(spec_key, row)
        if key is None:
            continue
        if key in first:
            parsed.issues.append(
                Issue(
                    row.line,
                    labels,
                    _("The same as row %(row)d; a form has each row once.") % {"row": first[key]},
                )
            )
        else:
            first[key] = row.line


def parse(
    register_no: int,
    table: list[list[Any]],
    *,
    engagement: Engagement,
    site: Site,
    progress: Progress | None = None,
    filename: str = "",
    max_rows: int | None = None,
    user: Actor | None = None,
) -> ParsedFile:
    """Check a table of cells against 表N's frame; every problem goes into ``issues``. References resolve
    among what ``user`` may point at (refs.References)."""
    parsed = ParsedFile(frame=frame(register_no))
    header_row = _find_header_row(table)
    if header_row is None:
        parsed.issues.append(
            Issue(
                None,
                "",
                _("No column header row starting with 序号: is this the 表%(n)d template?")
                % {"n": register_no},
            )
        )
        return parsed
    _check_title(parsed, table, header_row)
    positions = _map_columns(parsed, table[header_row])
    _read_header(parsed, _header_values(parsed, table, header_row), site)
    if parsed.issues:
        return parsed
    # The cross-register rules (registers.md §4) judge an imported row as they judge a typed one.
    form = Form(
        engagement=engagement,
        site=site,
        register_no=register_no,
        form_no=str(parsed.header.get("form_no") or ""),
    )
    reader = _RowReader(parsed, positions, References(engagement, user=user), site, form)
    body = table[header_row + 1 :]
    with rules.lookups_cached():
        _read_body(parsed, reader, body, header_row, progress, bounds(register_no, max_rows), filename)
    return parsed


def _read_body(
    parsed: ParsedFile,
    reader: _RowReader,
    body: list[list[Any]],
    header_row: int,
    progress: Progress | None,
    limits: Bounds,
    filename: str,
) -> None:
    for offset, cells in enumerate(body):
        if progress is not None and offset % PROGRESS_EVERY == 0:
            progress("validating", offset, len(body))
        if cells and is_footer(cells[0]):
            break
        if row_is_empty(cells):
            continue
        if len(parsed.rows) + len(parsed.raw) >= limits.max_rows:
            raise too_many_rows(filename, None, limits)
        row = reader.read(header_row + offset + 2, cells)
        if row is not None:
            parsed.rows.append(row)
    _check_duplicates(parsed)
    if not parsed.rows and not parsed.issues:
        parsed.issues.append(Issue(None, "", _("The file has no rows below the header row.")))

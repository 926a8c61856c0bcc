"""Import of a register file (xlsx or CSV in the official frame) into a form of a site: all or nothing.

Every problem is collected, never only the first: the header row is checked strictly (a missing, unknown or
repeated column is named by its label), then every row is parsed, its references resolved and its values
checked (``validation.clean_row``) before anything is written. One problem anywhere and nothing is written;
the problems are listed by row number, column label and reason, and the failed rows can be downloaded as
an xlsx with an error column. Otherwise the rows go into the form in one transaction with one audit event.

The form is the one whose 编号 the file gives, or the site's form of 表N with the file's 日期, or a new one.
A row whose natural key (``RegisterSpec.natural_key``, else 序号) is in the form already updates that row,
so importing the same file twice changes nothing; rows not in the file are left as they are. Signed means
frozen (DESIGN.md decision 2): a signed row, or any row of a signed form, is not touched, and the result
says so; the correction of a signed form is a new version, made on its page.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xlsxwriter
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import faults
from handover.core.actors import SystemActor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import catalogue, events, rules, services
from handover.registers.columns import Column
from handover.registers.io.frame import (
    FORM_DATE,
    FORM_NO,
    FORM_SITE,
    REMARKS,
    ROW_SIGNATURE_LABELS,
    SEQ,
    Frame,
    frame,
    is_footer,
    normalise_cell,
    row_is_empty,
    split_list,
)
from handover.registers.io.reading import Bounds, read_table, too_many_rows
from handover.registers.io.refs import References
from handover.registers.models import FROZEN_STATES, Form, Row, Signature
from handover.registers.validation import clean_row, looks_like_credential, parse_day

Progress = Callable[[str, int, int], None]
_TITLE = re.compile(r"^表(\d+)\s*[：:]")
_HEADER_SEARCH_ROWS = 20
PROGRESS_EVERY = 500
ERROR_COLUMN = "错误"
COLUMN_MARGIN = 10  # empty or note columns people leave right of the table


def bounds(register_no: int, max_rows: int | None = None) -> Bounds:
    """What an import of 表N reads: the frame's columns (or its form header, when that is wider) and a
    margin, and at most ``max_rows`` data rows (default ``HANDOVER_IMPORT_MAX_ROWS``)."""
    fr = frame(register_no)
    width = max(len(fr.export_labels), 6, 2 * len(fr.header_fields))
    cap = int(settings.HANDOVER_IMPORT_MAX_ROWS) if max_rows is None else max_rows
    return Bounds(columns=width + COLUMN_MARGIN, max_rows=cap)


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


@dataclass
class ImportResult:
    """What an import did, by 序号 of the form's rows."""

    register_no: int
    form_no: str
    form_created: bool = False
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    signed_untouched: list[int] = field(default_factory=list)
    form_frozen: bool = False

    def lines(self) -> list[str]:
        """The outcome as sentences, for the command line and the import page."""
        out = [
            _(
                "表%(n)d form %(form)s%(new)s: %(created)d rows created, %(updated)d updated, %(same)d unchanged."
            )
            % {
                "n": self.register_no,
                "form": self.form_no,
                "new": _(" (new form)") if self.form_created else "",
                "created": len(self.created),
                "updated": len(self.updated),
                "same": len(self.unchanged),
            }
        ]
        if self.form_frozen:
            out.append(
                _("The form is signed: nothing in it was changed. Correct a signed form as a new version.")
            )
        if self.signed_untouched:
            out.append(
                _("Signed rows were not changed (序号 %(rows)s); correct them as new versions with a reason.")
                % {"rows": ", ".join(map(str, self.signed_untouched))}
            )
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "form_no": self.form_no,
            "form_created": self.form_created,
            "created": self.created,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
            "signed_untouched": self.signed_untouched,
            "form_frozen": self.form_frozen,
        }


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


# -- parsing ---------------------------------------------------------------------------------------------
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


def _key(spec_key: tuple[str, ...], row: ParsedRow) -> str | None:
    values = [row.data.get(k) for k in spec_key]
    if spec_key and any(v is not None for v in values):
        return json.dumps(values, sort_keys=True, ensure_ascii=False)
    return None if row.seq is None else f"#{row.seq}"


def _check_duplicates(parsed: ParsedFile) -> None:
    spec_key = catalogue.get(parsed.frame.number).natural_key
    labels = "、".join(c.zh for c in parsed.frame.columns if c.key in spec_key) or SEQ
    first: dict[str, int] = {}
    for row in parsed.rows:
        key = _key(spec_key, row)
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
    user: Any = None,
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


# -- writing ---------------------------------------------------------------------------------------------
def _target_form(*, actor: Any, engagement: Engagement, site: Site, parsed: ParsedFile) -> tuple[Form, bool]:
    number = parsed.frame.number
    when = parsed.form_date or timezone.localdate()
    if parsed.form_no:
        form = Form.objects.filter(engagement=engagement, form_no=parsed.form_no, is_current=True).first()
        if form is not None and (form.register_no != number or form.site_id != site.pk):
            raise DomainError(
                _("The form %(no)s is a form of 表%(n)d at another site or of another register.")
                % {"no": form.form_no, "n": form.register_no},
                field="form_no",
            )
    else:
        # No 编号 in the file: the open form of that date, or a new one. A signed form of the date is not the
        # target (UX review H2: the rows were silently dropped into it); signed forms change only by 编号.
        form = (
            Form.objects.filter(
                engagement=engagement, site=site, register_no=number, form_date=when, is_current=True
            )
            .exclude(state__in=FROZEN_STATES)
            .order_by("-created_at")
            .first()
        )
    if form is not None:
        return form, False
    form = services.form_create(
        actor=actor,
        engagement=engagement,
        site=site,
        register_no=number,
        form_date=when,
        form_no=parsed.form_no,
        header=parsed.header,
        partial_header=True,  # a file carries no attachment (表1's 组织架构图); checked again on submission
    )
    return form, True


def _apply(*, actor: Any, form: Form, parsed: ParsedFile, result: ImportResult) -> dict[int, dict[str, Any]]:
    """Create and update the rows; returns the before/after of each updated row by 序号."""
    spec_key = catalogue.get(form.register_no).natural_key
    decimals = [c.key for c in parsed.frame.columns if c.type == "dec"]

    def same(stored: dict[str, Any], new: dict[str, Any]) -> bool:
        # 12.50 typed, 12.5 read back from a number cell: the same amount.
        if stored.keys() != new.keys():
            return False
        return all(
            Decimal(stored[k]) == Decimal(new[k]) if k in decimals else stored[k] == new[k] for k in stored
        )

    existing = list(Row.objects.filter(form=form, is_current=True))
    signed = set(Signature.objects.filter(row__form=form).values_list("row_id", flat=True))
    by_key: dict[str, Row] = {}
    for row in existing:
        key = _key(spec_key, ParsedRow(0, row.seq, row.data, row.remarks))
        if key is not None:
            by_key.setdefault(key, row)
    used = {row.seq for row in existing}
    next_seq = max(used, default=0) + 1
    created: list[Row] = []
    changed: list[Row] = []
    diffs: dict[int, dict[str, Any]] = {}
    user = None if isinstance(actor, SystemActor) else actor
    for item in parsed.rows:
        key = _key(spec_key, item)
        match = by_key.get(key) if key is not None else None
        if match is None:
            seq = item.seq if item.seq is not None and item.seq not in used else next_seq
            used.add(seq)
            next_seq = max(next_seq, seq + 1)
            created.append(Row(form=form, seq=seq, data=item.data, remarks=item.remarks, created_by=user))
        elif same(match.data, item.data) and match.remarks == item.remarks:
            result.unchanged.append(match.seq)
        elif match.pk in signed:
            result.signed_untouched.append(match.seq)
        else:
            before = {
                k: match.data.get(k)
                for k in set(match.data) | set(item.data)
                if match.data.get(k) != item.data.get(k)
            }
            diffs[match.seq] = {"before": before, "after": {k: item.data.get(k) for k in before}}
            if match.remarks != item.remarks:
                diffs[match.seq]["remarks"] = item.remarks
            match.data, match.remarks = item.data, item.remarks
            changed.append(match)
    Row.objects.bulk_create(created, batch_size=1000)
    faults.point("registers.import.mid_rows")  # new rows in, the changed ones not yet
    Row.objects.bulk_update(changed, ["data", "remarks"], batch_size=1000)
    result.created = [row.seq for row in created]
    result.updated = [row.seq for row in changed]
    return diffs


def _write(
    *, actor: Any, engagement: Engagement, site: Site, parsed: ParsedFile, filename: str, sha256: str
) -> ImportResult:
    with transaction.atomic():
        form, created = _target_form(actor=actor, engagement=engagement, site=site, parsed=parsed)
        result = ImportResult(parsed.frame.number, form.form_no, form_created=created)
        if not form.is_current or form.is_frozen:
            result.form_frozen = True
            return result
        diffs = _apply(actor=actor, form=form, parsed=parsed, result=result)
        faults.point(
            "registers.import.after_rows"
        )  # rows written, no event yet: one transaction, all or none
        event_record(
            actor=actor,
            action=events.ROWS_IMPORT,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=form,
            after={
                "file": filename,
                "sha256": sha256,
                "form": form.form_no,
                "created": result.created,
                "updated": diffs,
                "unchanged": len(result.unchanged),
                "signed_untouched": result.signed_untouched,
            },
        )
        faults.point("registers.import.before_commit")
    return result


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is imported.

    An import holds every cell, parsed row and Row of the file until it ends, and they form no cycles:
    reference counting frees them. Left on, the collector walks all of them (and the whole process) on each
    full collection, and it runs more full collections the more rows the import holds: 10,000 rows spent a
    quarter of their time there, 1,000 none, so the import grew faster than its rows (docs/benchmarks.md).
    Another thread's import may end first and turn the collector back on; this one is then only slower.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@_cycle_collector_paused()
def register_import(
    *,
    actor: Any,
    engagement: Engagement,
    site: Site,
    register_no: int,
    filename: str,
    content: bytes,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Import a file of 表N for ``site``: every row checked first, then all written, or none (ImportRefused).
    At most ``max_rows`` data rows (default ``HANDOVER_IMPORT_MAX_ROWS``) are taken; more refuse the file
    (reading.TooManyRows)."""
    catalogue.get(register_no)
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    table = read_table(filename, content, bounds=bounds(register_no, max_rows))
    parsed = parse(
        register_no,
        table,
        engagement=engagement,
        site=site,
        progress=progress,
        filename=filename,
        max_rows=max_rows,
        user=actor,
    )
    if parsed.issues:
        raise ImportRefused(parsed, filename)
    if progress is not None:
        progress("writing", len(parsed.rows), len(parsed.rows))
    faults.point("registers.import.after_parse")
    return _write(
        actor=actor,
        engagement=engagement,
        site=site,
        parsed=parsed,
        filename=filename,
        sha256=hashlib.sha256(content).hexdigest(),
    )


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

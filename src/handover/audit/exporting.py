"""The audit trail as a file (xlsx, CSV), for whichever face asks: the pages and the API (review §4.1).

An export is a sensitive read (DESIGN.md decision 3): ``trail_export`` goes through ``services.trail_read``,
which records ``audit.export`` with the format and the filters before a single row is written. CSV streams
(a million events in constant memory); xlsx is built in memory with xlsxwriter's constant-memory mode.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import xlsxwriter
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit import catalogue, naming, selectors
from handover.audit.models import Event
from handover.audit.services import trail_read
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.core.moments import moment_text
from handover.core.spreadsheet import text_for_csv

FORMATS = ("csv", "xlsx")
EXPORT_LIMIT = 1_000_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class TrailExport:
    """The file: ``content`` is an iterator of text chunks (CSV, to stream) or the whole bytes (xlsx)."""

    filename: str
    content_type: str
    content: Iterable[str] | bytes

    @property
    def streams(self) -> bool:
        return not isinstance(self.content, bytes)


def columns() -> list[str]:
    """The header row of an export, in the reader's language."""
    return [
        _("Seq"),
        _("Time (Beijing)"),
        _("Actor"),
        _("Engagement"),
        _("Site"),
        _("Action"),
        _("Object"),
        _("Before"),
        _("After"),
        _("Outcome"),
        _("Request"),
        _("Client address"),
        _("Hash"),
        _("Action code"),
        _("Object (type:id)"),
        _("Before (JSON)"),
        _("After (JSON)"),
    ]


def row(event: Event, names: dict[tuple[str, str], str] | None = None) -> list[Any]:
    """One event as the auditor reads it (UX review M7): engagement, site and object by name, the action and
    the outcome in words, before/after as ``key: value`` lines; the raw codes and JSON stay in the last columns
    for a machine. ``names``: the objects' names looked up for a batch of events (``names_of``)."""
    names = names if names is not None else names_of([event])
    return [
        event.seq,
        # UX review M2: the time the pages show (the deployment's zone, Beijing), not UTC: one event, one date.
        moment_text(event.occurred_at, seconds=True),
        event.actor_username,
        name_in(names, "org.engagement", event.engagement_id),
        name_in(names, "org.site", event.site_id),
        str(catalogue.label(event.action)),
        name_in(names, event.object_type, event.object_id),
        _readable(event.before),
        _readable(event.after),
        event.get_outcome_display(),
        event.request_id,
        event.client_addr,
        event.hash,
        event.action,
        f"{event.object_type}:{event.object_id}" if event.object_type else "",
        _json(event.before),
        _json(event.after),
    ]


def rows(events: Any, chunk: int = 2000) -> Iterator[list[Any]]:
    """The export's rows, the names looked up once per chunk of events (a few queries per 2,000 rows)."""
    batch: list[Any] = []
    for event in events.iterator(chunk_size=chunk):
        batch.append(event)
        if len(batch) == chunk:
            names = names_of(batch)
            yield from (row(e, names) for e in batch)
            batch = []
    names = names_of(batch)
    yield from (row(e, names) for e in batch)


def names_of(events: list[Any]) -> dict[tuple[str, str], str]:
    """The names of the events' objects, engagements and sites (one query per object type)."""
    return naming.object_names(
        pair
        for e in events
        for pair in (
            (e.object_type, e.object_id),
            ("org.engagement", str(e.engagement_id or "")),
            ("org.site", str(e.site_id or "")),
        )
    )


def name_in(names: dict[tuple[str, str], str], object_type: str, object_id: Any) -> str:
    if not object_id:
        return ""
    return names.get((object_type, str(object_id)), f"{object_type} {object_id}".strip())


def _readable(value: Any) -> str:
    """A before/after snapshot as lines of ``key: value`` (lists joined, nested values as compact JSON)."""
    if not value:
        return ""
    if not isinstance(value, dict):
        return _json(value)
    lines = []
    for key, item in value.items():
        if isinstance(item, list) and all(not isinstance(v, dict | list) for v in item):
            text = "、".join(str(v) for v in item)
        elif isinstance(item, dict | list):
            text = _json(item)
        else:
            text = "" if item is None else str(item)
        lines.append(f"{key}: {text}")
    return "\n".join(lines)


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def trail_export(
    *, actor: Actor, scope: selectors.TrailScope, filters: dict[str, Any] | None, fmt: str
) -> TrailExport:
    """The events ``actor`` may read within ``scope``, filtered, as a CSV or xlsx file; the export is
    recorded (``audit.export``) by ``trail_read``. An unknown format is refused before anything is recorded."""
    if fmt not in FORMATS:
        raise DomainError(_("Export as CSV or xlsx."), field="format")
    found = trail_read(actor=actor, scope=scope, filters=filters, export_format=fmt)[:EXPORT_LIMIT]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        return TrailExport(f"audit-{stamp}.csv", "text/csv; charset=utf-8", _csv(found))
    return TrailExport(f"audit-{stamp}.xlsx", XLSX_TYPE, _xlsx(found))


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(events: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(columns())
    for values in rows(events):
        # M5: a login name such as =HYPERLINK(…) stays text in the auditor's spreadsheet.
        yield writer.writerow([text_for_csv(v) if isinstance(v, str) else v for v in values])


def _xlsx(events: Any) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "constant_memory": True,
            # M5: strings are written as strings, never turned into live formulas or links.
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    sheet = book.add_worksheet(_("Audit trail"))
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, columns(), bold)
    for index, values in enumerate(rows(events), start=1):
        sheet.write_row(index, 0, values)
    book.close()
    return buffer.getvalue()

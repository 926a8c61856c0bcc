"""The auditor's page: list, filter and export the trail (xlsx, CSV). An export is itself recorded."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

import xlsxwriter
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.audit import catalogue, naming, selectors, services
from handover.audit.models import Outcome
from handover.audit.services import trail_read
from handover.core.moments import moment_text
from handover.core.spreadsheet import text_for_csv
from handover.org import permissions as perms
from handover.org.selectors import audit_scope
from handover.web.access import needs

FILTERS = ("action", "actor", "engagement", "outcome", "object", "since", "until")
EXPORT_LIMIT = 1_000_000


def _filters(request: HttpRequest) -> dict[str, Any]:
    return {key: request.GET.get(key, "").strip() for key in FILTERS if request.GET.get(key, "").strip()}


def _columns() -> list[str]:
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


def _row(event: Any, names: dict[tuple[str, str], str]) -> list[Any]:
    """One event as the auditor reads it (UX review M7): engagement, site and object by name, the action and
    the outcome in words, before/after as ``key: value`` lines; the raw codes and JSON stay in the last columns
    for a machine."""
    return [
        event.seq,
        # UX review M2: the time the pages show (the deployment's zone, Beijing), not UTC: one event, one date.
        moment_text(event.occurred_at, seconds=True),
        event.actor_username,
        _name(names, "org.engagement", event.engagement_id),
        _name(names, "org.site", event.site_id),
        str(catalogue.label(event.action)),
        _name(names, event.object_type, event.object_id),
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


def _rows(events_qs: Any, chunk: int = 2000) -> Any:
    """The export's rows, the names looked up once per chunk of events (a few queries per 2,000 rows)."""
    batch: list[Any] = []
    for event in events_qs.iterator(chunk_size=chunk):
        batch.append(event)
        if len(batch) == chunk:
            yield from _batch_rows(batch)
            batch = []
    yield from _batch_rows(batch)


def _batch_rows(batch: list[Any]) -> Any:
    names = _names(batch)
    return (_row(event, names) for event in batch)


def _names(events: list[Any]) -> dict[tuple[str, str], str]:
    return naming.object_names(
        pair
        for e in events
        for pair in (
            (e.object_type, e.object_id),
            ("org.engagement", str(e.engagement_id or "")),
            ("org.site", str(e.site_id or "")),
        )
    )


def _name(names: dict[tuple[str, str], str], object_type: str, object_id: Any) -> str:
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


@needs(perms.VIEW_AUDIT)
def event_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    # Reading the trail is itself a sensitive read (DESIGN.md decision 3): the service records it.
    events_qs = trail_read(actor=request.user, scope=audit_scope(user=request.user), filters=filters)
    # M3: the head, read after this page's own event, so the auditor can write it down or send it off; what
    # came after the last checkpoint is covered by nothing else until the next one.
    head_seq, head_hash = selectors.chain_head()
    last = selectors.last_checkpoint_event()
    page = Paginator(events_qs, 50).get_page(request.GET.get("page"))
    names = _names(list(page))
    rows = [
        (event, catalogue.label(event.action), _name(names, event.object_type, event.object_id))
        for event in page
    ]
    query = urlencode(filters)
    return render(
        request,
        "audit/event_list.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "actions": catalogue.choices(),
            "outcomes": Outcome.choices,
            "query": query,
            "label": catalogue.label,
            "head_seq": head_seq,
            "head_hash": head_hash,
            "last_checkpoint": last,
            "since_checkpoint": head_seq - int((last.after or {}).get("seq", 0)) if last else head_seq,
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@needs(perms.VIEW_AUDIT)
def event_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    filters = _filters(request)
    scope = audit_scope(user=request.user)
    events_qs = trail_read(actor=request.user, scope=scope, filters=filters, export_format=fmt)[:EXPORT_LIMIT]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        writer = csv.writer(_Echo())
        # M5: a login name such as =HYPERLINK(…) stays text in the auditor's spreadsheet.
        rows = (writer.writerow([_csv_cell(v) for v in row]) for row in _rows(events_qs))
        header = writer.writerow(_columns())
        response = StreamingHttpResponse(
            _chain(["\ufeff", header], rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response
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
    sheet.write_row(0, 0, _columns(), bold)
    for index, row in enumerate(_rows(events_qs), start=1):
        sheet.write_row(index, 0, row)
    book.close()
    download = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    download["Content-Disposition"] = f'attachment; filename="audit-{stamp}.xlsx"'
    return download


def _csv_cell(value: Any) -> Any:
    return text_for_csv(value) if isinstance(value, str) else value


def _chain(first: list[str], rest: Any) -> Any:
    yield from first
    yield from rest


@needs(perms.VIEW_AUDIT)
@require_POST
def chain_verify(request: HttpRequest) -> HttpResponse:
    """UX review M7: the auditor checks the hash chain from the page; the check records its own event."""
    report, checkpoints = services.chain_verify(actor=request.user)
    if report.ok:
        messages.success(
            request,
            _(
                "The chain is intact: %(events)d events up to event %(head)d, %(checkpoints)d signed checkpoints."
            )
            % {"events": report.events, "head": report.head_seq, "checkpoints": checkpoints},
        )
    else:
        first = "; ".join(p.detail for p in report.problems[:5])
        messages.error(
            request,
            _("The chain is BROKEN: %(n)d problems. %(first)s") % {"n": len(report.problems), "first": first},
        )
    return redirect("audit:event_list")

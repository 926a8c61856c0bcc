"""The auditor's page: list, filter and export the trail (xlsx, CSV). An export is itself recorded."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

import xlsxwriter
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit import catalogue, selectors
from handover.audit.models import Outcome
from handover.audit.services import trail_read
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
    ]


def _row(event: Any) -> list[Any]:
    return [
        event.seq,
        # UX review M2: the time the pages show (the deployment's zone, Beijing), not UTC: one event, one date.
        timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
        event.actor_username,
        event.engagement_id or "",
        event.site_id or "",
        f"{event.action} {catalogue.label(event.action)}",
        f"{event.object_type}:{event.object_id}",
        _json(event.before),
        _json(event.after),
        event.outcome,
        event.request_id,
        event.client_addr,
        event.hash,
    ]


def _json(value: Any) -> str:
    import json

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
    rows = [(event, catalogue.label(event.action)) for event in page]
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
        rows = (writer.writerow([_csv_cell(v) for v in _row(e)]) for e in events_qs.iterator(chunk_size=2000))
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
    for index, event in enumerate(events_qs.iterator(chunk_size=2000), start=1):
        sheet.write_row(index, 0, _row(event))
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

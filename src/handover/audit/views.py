"""The auditor's page: list, filter and export the trail (xlsx, CSV). An export is itself recorded."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.audit import catalogue, exporting, selectors, services
from handover.audit.exporting import trail_export
from handover.audit.models import Outcome
from handover.audit.services import trail_read
from handover.org import permissions as perms
from handover.org.selectors import audit_scope
from handover.web.access import needs

FILTERS = ("action", "actor", "engagement", "outcome", "object", "object_id", "since", "until")


def _filters(request: HttpRequest) -> dict[str, Any]:
    return {key: request.GET.get(key, "").strip() for key in FILTERS if request.GET.get(key, "").strip()}


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
    names = exporting.names_of(list(page))
    rows = [
        (event, catalogue.label(event.action), exporting.name_in(names, event.object_type, event.object_id))
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


@needs(perms.VIEW_AUDIT)
def event_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    export = trail_export(
        actor=request.user, scope=audit_scope(user=request.user), filters=_filters(request), fmt=fmt
    )
    response: HttpResponseBase
    if export.streams:
        response = StreamingHttpResponse(export.content, content_type=export.content_type)
    else:
        response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


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

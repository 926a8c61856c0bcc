"""Reads of the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from handover.audit import chain
from handover.audit.models import Event

_COLUMNS = [*chain.FIELDS, "hash"]


def chain_rows(*, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every event as a dict of its hashed fields, in ascending sequence, in keyset-paged batches."""
    last = 0
    while True:
        rows = list(Event.objects.filter(seq__gt=last).order_by("seq").values(*_COLUMNS)[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1]["seq"]


def chain_head() -> tuple[int, str]:
    head = Event.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, chain.GENESIS)


def event_list(*, user: Any, filters: dict[str, Any] | None = None) -> QuerySet[Event]:
    """Events the user may read: an auditor's engagements plus engagement-less (account) events."""
    from handover.org.selectors import engagement_ids_for

    ids = engagement_ids_for(user=user, capability="view_audit")
    qs = Event.objects.filter(engagement_id__in=ids) | Event.objects.filter(engagement_id__isnull=True)
    if not ids:
        return Event.objects.none()
    filters = filters or {}
    if filters.get("action"):
        qs = qs.filter(action=filters["action"])
    if filters.get("actor"):
        qs = qs.filter(actor_username__icontains=filters["actor"])
    if filters.get("engagement"):
        qs = qs.filter(engagement_id=filters["engagement"])
    if filters.get("outcome"):
        qs = qs.filter(outcome=filters["outcome"])
    if filters.get("object"):
        qs = qs.filter(object_type__icontains=filters["object"])
    if filters.get("since"):
        qs = qs.filter(occurred_at__date__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(occurred_at__date__lte=filters["until"])
    return qs.order_by("-seq")

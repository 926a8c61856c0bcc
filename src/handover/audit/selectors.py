"""Reads of the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet

from handover.audit import chain
from handover.audit.models import Event

_COLUMNS = [*chain.FIELDS, "hash"]


def chain_rows(*, batch: int = 10000) -> Iterator[dict[str, Any]]:
    """Every event as a dict of its hashed fields, in ascending sequence, in keyset-paged batches.

    The values are those ``Event.objects.values()`` gives (aware datetimes, parsed JSON), read with a plain
    cursor: the ORM's per-value converters were half the time of verifying a chain (docs/benchmarks.md).
    """
    connection = connections[Event.objects.db]
    quote = connection.ops.quote_name
    columns, seq = ", ".join(quote(name) for name in _COLUMNS), quote("seq")  # no db_column on Event
    sql = f"SELECT {columns} FROM {quote(Event._meta.db_table)} WHERE {seq} > %s ORDER BY {seq} LIMIT %s"  # noqa: S608
    decode, zone = json.JSONDecoder().decode, connection.timezone if settings.USE_TZ else None
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, batch])
            page = cursor.fetchall()
        if not page:
            return
        for values in page:
            row = dict(zip(_COLUMNS, values, strict=True))
            moment = row["occurred_at"]
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment)
            row["occurred_at"] = moment.replace(tzinfo=zone) if zone and moment.tzinfo is None else moment
            for name in ("before", "after"):
                if isinstance(row[name], str):  # the JSON text; a driver may also hand over parsed values
                    row[name] = decode(row[name])
            yield row
        last = page[-1][0]


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

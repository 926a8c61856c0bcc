"""Reads of the audit trail."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _

from handover.audit import chain, verify
from handover.audit.checkpoint import Checkpoint
from handover.audit.models import Event
from handover.core.errors import DomainError

_COLUMNS = [*chain.FIELDS, "hash"]


def chain_rows(*, batch: int = 10000, after: int = 0, upto: int | None = None) -> Iterator[dict[str, Any]]:
    """Every event (of ``after`` < seq ≤ ``upto``) as a dict of its hashed fields, in ascending sequence, in
    keyset-paged batches.

    The values are those ``Event.objects.values()`` gives (aware datetimes, parsed JSON), read with a plain
    cursor: the ORM's per-value converters were half the time of verifying a chain (docs/benchmarks.md).
    """
    connection = connections[Event.objects.db]
    quote = connection.ops.quote_name
    columns, seq = ", ".join(quote(name) for name in _COLUMNS), quote("seq")  # no db_column on Event
    sql = (
        f"SELECT {columns} FROM {quote(Event._meta.db_table)} "  # noqa: S608
        f"WHERE {seq} > %s AND {seq} <= %s ORDER BY {seq} LIMIT %s"
    )
    decode, zone = json.JSONDecoder().decode, connection.timezone if settings.USE_TZ else None
    last, upto = after, (1 << 62) if upto is None else upto
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, upto, batch])
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


# Below this many events a chain is verified in this process: forking costs more than it saves.
PARALLEL_FROM = 100_000


def verify_chain(
    *, algorithm: str, checkpoints: Iterable[Checkpoint] = (), jobs: int | None = None
) -> verify.Report:
    """``verify.verify_rows(chain_rows())``, split by sequence range over ``jobs`` processes (default: one
    per core). Each child reads and hashes its own range on its own connection; the seams are checked once
    in ``verify.merge_parts``, so the report is the serial one, problem for problem. Serial for a short
    chain, one job, or inside a transaction (a child could not see its uncommitted rows)."""
    checkpoints = list(checkpoints)
    wanted = frozenset(c.seq for c in checkpoints)
    jobs = jobs or os.cpu_count() or 1
    connection = connections[Event.objects.db]
    head = Event.objects.aggregate(head=Max("seq"))["head"] or 0
    if jobs < 2 or head < PARALLEL_FROM or connection.in_atomic_block:
        return verify.verify_rows(chain_rows(), algorithm=algorithm, checkpoints=checkpoints)
    bounds = [head * k // jobs for k in range(jobs + 1)]
    bounds[-1] = 1 << 62  # rows appended while we verify belong to the last range, as in a serial read
    ranges = [(lo, hi, algorithm, wanted) for lo, hi in itertools.pairwise(bounds)]
    connections.close_all()  # a forked child must open its own connection, never share the parent's
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        parts = pool.map(_verify_range, ranges, chunksize=1)
    return verify.merge_parts(parts, algorithm=algorithm, checkpoints=checkpoints)


def _verify_range(task: tuple[int, int, str, frozenset[int]]) -> verify.Part:
    after, upto, algorithm, wanted = task
    try:
        return verify.verify_part(chain_rows(after=after, upto=upto), algorithm=algorithm, wanted=wanted)
    finally:
        connections.close_all()


def chain_head() -> tuple[int, str]:
    head = Event.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, chain.GENESIS)


def last_checkpoint_event() -> Event | None:
    """The newest ``audit.checkpoint.write`` event: where the last checkpoint was written and shipped."""
    from handover.audit import events

    return Event.objects.filter(action=events.CHECKPOINT_WRITE).order_by("-seq").first()


def _parse_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Filters checked before they reach the database: a bad date or id is the user's mistake, not a 500."""
    parsed = dict(filters)
    for name in ("since", "until"):
        if parsed.get(name):
            try:
                parsed[name] = date.fromisoformat(str(parsed[name]))
            except ValueError:
                raise DomainError(
                    _("Enter the date as YYYY-MM-DD (for example 2026-12-04)."), field=name
                ) from None
    if parsed.get("engagement"):
        text = str(parsed["engagement"])
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise DomainError(_("Enter the engagement's number (digits only)."), field="engagement")
        parsed["engagement"] = int(text)
    return parsed


@dataclass(frozen=True)
class TrailScope:
    """Whose events a reader may see: the engagements where they may read the trail and the logins of those
    engagements' people. The trail depends on nothing above it, so the caller brings the scope
    (``org.selectors.audit_scope``, which knows the roles)."""

    engagement_ids: frozenset[int]
    user_ids: frozenset[int]


def event_list(*, scope: TrailScope, filters: dict[str, Any] | None = None) -> QuerySet[Event]:
    """Events within ``scope``: those of its engagements, plus the engagement-less (account) events of the
    people of those engagements and the deployment's own (actor-less, non-account) events such as
    checkpoints. Another engagement's logins and account changes stay out of sight."""
    if not scope.engagement_ids:
        return Event.objects.none()
    filters = _parse_filters(filters or {})
    account = Q(object_type__startswith="accounts.")
    unscoped = Q(engagement_id__isnull=True)
    qs = Event.objects.filter(
        Q(engagement_id__in=scope.engagement_ids)
        | (unscoped & Q(actor_id__in=scope.user_ids))
        | (unscoped & account & Q(object_id__in=[str(pk) for pk in scope.user_ids]))
        | (unscoped & Q(actor_id__isnull=True) & ~account)
    )
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
    if filters.get("object_id"):  # issue 17: an object's name in the trail links to its own events
        qs = qs.filter(object_id=str(filters["object_id"]))
    if filters.get("since"):
        qs = qs.filter(occurred_at__date__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(occurred_at__date__lte=filters["until"])
    return qs.order_by("-seq")

"""Rows: filters, the keyset-paged list, full-text search, one row with its signatures and its history."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import (
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    Prefetch,
    Q,
    QuerySet,
)
from django.db.models.lookups import Exact, In
from django.utils.translation import gettext as _

from handover.audit.models import Event
from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.registers import catalogue
from handover.registers.columns import Column
from handover.registers.models import (
    Form,
    Row,
    Signature,
)
from handover.registers.selectors.common import PAGE_SIZE, FormLine, Reach, RowLine, _scoped_sites, reach


@dataclass(frozen=True)
class RowFilters:
    """What a row list is narrowed to; ``columns`` maps enum or 是/否 column keys to a value."""

    register_no: int | None = None
    phase: str = ""
    site: Site | None = None
    form: Form | None = None
    state: str = ""
    q: str = ""
    columns: dict[str, Any] = field(default_factory=dict)


def filterable_columns(register_no: int) -> tuple[Column, ...]:
    """The columns a list can be filtered by: enums and 是/否."""
    return tuple(c for c in catalogue.columns(register_no) if c.type in ("enum", "bool"))


def column_filters(register_no: int, params: Any) -> dict[str, Any]:
    """The column filters among request parameters, checked against the register's declarations."""
    chosen: dict[str, Any] = {}
    for column in filterable_columns(register_no):
        value = str(params.get(column.key, "")).strip()
        if not value:
            continue
        if column.type == "bool":
            if value in ("是", "否"):
                chosen[column.key] = value == "是"
        elif value in {c.zh for c in column.choices}:
            chosen[column.key] = value
    return chosen


def row_list(
    *, user: Actor, engagement: Engagement, filters: RowFilters, within: Reach | None = None
) -> QuerySet[Row]:
    """Current rows of current forms at the user's sites, narrowed by ``filters``, unordered. ``within``: the
    user's ``VIEW_REGISTERS`` reach when the page has already read it (``common.reach``), else read here.

    The sites are given to the query as a list of ids, not as subqueries on the sites table: building and
    compiling those nested subqueries was a third of the list page's time (issue 18), and both planners
    treat a short list of ids as they treated the subquery's rows (docs/benchmarks.md, the register pages).

    On SQLite the form-side conditions (engagement, register, site) are written so that no index of the
    forms table can drive the plan (``+ 0``, see ``_unindexed``): SQLite then walks the rows' (form, 序号)
    index in page order, checks each row's form by its key and stops after one page. Left to itself, it
    gathered every row of the register through the forms' index and sorted them all for each page (220 ms
    against 1 ms for a page of a 100,000-row register; docs/benchmarks.md).
    """
    if within is None:
        within = reach(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    if within is None:
        return Row.objects.none()
    # The sites the rows may come from: the chosen site's subtree (within the scope: a scope is whole
    # subtrees), or the scope; None for the whole engagement.
    site_ids = (
        within.subtree_ids(filters.site)
        if filters.site is not None
        else None
        if within.everywhere
        else within.ids
    )
    # The conditions are gathered and given to one ``filter``: each call clones the query (issue 18).
    where: list[Q | Exact | In] = [Exact(_unindexed("form__engagement_id"), engagement.pk)]
    if site_ids is not None:
        where.append(In(_unindexed("form__site_id"), site_ids))
    if filters.form is not None:
        where.append(Q(form=filters.form))
    if filters.register_no is not None:
        where.append(Exact(_unindexed("form__register_no"), filters.register_no))
    elif filters.phase:
        numbers = [s.number for s in catalogue.REGISTERS if s.phase == filters.phase]
        where.append(In(_unindexed("form__register_no"), numbers))
    qs = Row.objects.filter(Q(is_current=True, form__is_current=True), *where)
    if filters.register_no is not None and filters.form is None and _on_sqlite():
        qs = _within_forms(qs, engagement, filters.register_no, site_ids)
    narrower = [Q(**{f"data__{key}": value}) for key, value in filters.columns.items()]
    if filters.state:
        narrower.insert(0, Q(form__state=filters.state))
    if narrower:
        qs = qs.filter(*narrower)
    if filters.q:
        qs = _search(qs, filters.q)
    return qs.select_related("form", "form__site")


def _within_forms(
    qs: QuerySet[Row], engagement: Engagement, register_no: int, site_ids: list[int] | None
) -> QuerySet[Row]:
    """Bound SQLite's walk by the first and last form of the register in scope (one indexed look-up, its
    bounds then given as numbers), so a branch whose rows are a small part of a large register is not looked
    for among everybody's rows. (PostgreSQL, not knowing the bounds when it plans, would guess two rows and
    sort them all.)"""
    forms = Form.objects.filter(engagement=engagement, register_no=register_no, is_current=True)
    if site_ids is not None:
        forms = forms.filter(site_id__in=site_ids)
    bounds = forms.order_by().aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        return qs.none()
    return qs.filter(form_id__gte=bounds["first"], form_id__lte=bounds["last"])


def _on_sqlite() -> bool:
    return connections[Row.objects.db].vendor == "sqlite"


def _unindexed(column: str) -> Any:
    """``column + 0`` on SQLite, whose planner otherwise drives the list from the forms' index and sorts
    every row of the register; PostgreSQL plans the plain column well (an incremental sort along the
    forms' key, 0.6 ms) and the ``+ 0`` would cost it that plan (170 ms), so it gets the column as is."""
    if not _on_sqlite():
        return F(column)
    return ExpressionWrapper(F(column) + 0, output_field=IntegerField())


def _search(qs: QuerySet[Row], query: str) -> QuerySet[Row]:
    """Full-text search over the row's values and 备注. SQLite keeps JSON text with \\uXXXX escapes,
    PostgreSQL's jsonb prints the characters, so both spellings of the query are looked for."""
    escaped = json.dumps(query)[1:-1]
    match = Q(remarks__icontains=query) | Q(search_text__icontains=query)
    if escaped != query:
        match |= Q(search_text__icontains=escaped)
    return qs.filter(match)


@dataclass(frozen=True)
class Cursor:
    """A place in the (form, 序号) order: rows after it, rows before it, or the last page."""

    after: tuple[int, int] | None = None
    before: tuple[int, int] | None = None
    last: bool = False

    @staticmethod
    def parse(*, after: str = "", before: str = "", last: str = "") -> Cursor:
        def key(text: str) -> tuple[int, int] | None:
            form_id, _sep, seq = text.partition(".")
            return (int(form_id), int(seq)) if form_id.isdecimal() and seq.isdecimal() else None

        return Cursor(after=key(after), before=key(before), last=last == "1")


R = TypeVar("R")


@dataclass
class RowPage(Generic[R]):
    """One page of rows; ``next_after`` / ``prev_before`` are the cursors of the neighbouring pages."""

    rows: list[R]
    next_after: str | None
    prev_before: str | None
    is_first: bool
    is_last: bool


_LINE_FIELDS = (
    "pk", "form_id", "seq", "version", "data", "remarks",
    "form__form_no", "form__state", "form__site__name",
)  # fmt: skip


def _key(row: Any) -> str:
    """A row's place in the page order (a ``Row`` or a ``RowLine``)."""
    return f"{row.form_id}.{row.seq}"


def _seek(rows: QuerySet[Row], cursor: Cursor) -> tuple[QuerySet[Row], bool]:
    """The rows from the cursor on, in page order (backwards for a previous or the last page)."""
    backwards = cursor.before is not None or cursor.last
    if cursor.after is not None:
        form_id, seq = cursor.after
        rows = rows.filter(Q(form_id__gt=form_id) | Q(form_id=form_id, seq__gt=seq))
    elif cursor.before is not None:
        form_id, seq = cursor.before
        rows = rows.filter(Q(form_id__lt=form_id) | Q(form_id=form_id, seq__lt=seq))
    ordered = rows.order_by("-form_id", "-seq") if backwards else rows.order_by("form_id", "seq")
    return ordered, backwards


def _paged(found: list[R], cursor: Cursor, backwards: bool, size: int) -> RowPage[R]:
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    is_first = (backwards and not more) or (not backwards and cursor.after is None)
    is_last = (not backwards and not more) or cursor.last
    return RowPage(
        rows=found,
        next_after=_key(found[-1]) if found and not is_last else None,
        prev_before=_key(found[0]) if found and not is_first else None,
        is_first=is_first,
        is_last=is_last,
    )


def row_page(*, rows: QuerySet[Row], cursor: Cursor, size: int = PAGE_SIZE) -> RowPage[Row]:
    """One page by seek: a single query of ``size + 1`` rows, whichever page is asked for."""
    ordered, backwards = _seek(rows, cursor)
    return _paged(list(ordered[: size + 1]), cursor, backwards, size)


def row_lines(*, rows: QuerySet[Row], cursor: Cursor, size: int = PAGE_SIZE) -> RowPage[RowLine]:
    """One page by seek as ``row_page``, each row read as a ``RowLine`` (the list pages: issue 18)."""
    ordered, backwards = _seek(rows, cursor)
    found = [
        RowLine(pk, form_id, seq, version, data, remarks, FormLine(form_id, form_no, state, site))
        for pk, form_id, seq, version, data, remarks, form_no, state, site in ordered.values_list(
            *_LINE_FIELDS
        )[: size + 1]
    ]
    return _paged(found, cursor, backwards, size)


def row_signers(*, row_ids: list[int]) -> dict[int, dict[str, str]]:
    """The names of the executor and supervisor who signed the given rows, by row and kind, in one query."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if row_ids:
        signers = Signature.objects.filter(row__in=row_ids).values_list("row_id", "kind", "person__name")
        for row_id, kind, name in signers:
            found[row_id][kind] = name
    return found


def row_get(
    *, user: Actor, engagement: Engagement, row_id: int, capability: str = perms.VIEW_REGISTERS
) -> Row:
    """One row (any version) at the user's sites."""
    sites = _scoped_sites(user=user, engagement=engagement, capability=capability)
    row = None
    if sites is not None:
        row = (
            Row.objects.filter(pk=row_id, form__engagement=engagement, form__site__in=sites)
            .select_related("form", "form__site", "form__engagement", "previous")
            .first()
        )
    if row is None:
        raise NotFound(_("No register row %(id)s is open to you here.") % {"id": row_id}, field="row")
    return row


@dataclass
class RowHistory:
    """Every version of a row across the versions of its form, with signatures, files and audit events."""

    versions: list[Row]
    events: list[Event]


def row_history(*, row: Row) -> RowHistory:
    """The full history of a row the caller has already read through ``row_get``."""
    versions = list(
        Row.objects.filter(
            form__engagement_id=row.form.engagement_id, form__form_no=row.form.form_no, seq=row.seq
        )
        .select_related("form")
        .prefetch_related(
            Prefetch("signatures", queryset=Signature.objects.select_related("person")), "attachments"
        )
        .order_by("form__version", "version")
    )
    row_ids = [str(v.pk) for v in versions]
    signature_ids = [str(s.pk) for v in versions for s in v.signatures.all()]
    attachment_ids = [str(a.pk) for v in versions for a in v.attachments.all()]
    events = Event.objects.filter(engagement_id=row.form.engagement_id).filter(
        Q(object_type="registers.row", object_id__in=row_ids)
        | Q(object_type="registers.signature", object_id__in=signature_ids)
        | Q(object_type="registers.attachment", object_id__in=attachment_ids)
    )
    return RowHistory(versions=versions, events=list(events.order_by("seq")))

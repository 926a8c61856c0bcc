"""Reads of register forms, rows, signatures and attachments, limited to what the user may see.

Every page and API endpoint of the registers reads through here. A form, row or file outside the user's
sites is reported as not found (org.selectors does the same), so its existence does not leak.

Row lists page by keyset (seek) on (form, 序号), never by OFFSET and never with a COUNT: the cost of a page
is the same on page 1 and on the last page of a 100,000-row register (tests/registers/test_pages.py asserts
the query count, bench/registers_list_bench.py measures the time).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.db import connections
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Model,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.lookups import Exact, In
from django.utils.translation import gettext as _

from handover.audit.models import Event
from handover.core import filestore
from handover.core.actors import SystemActor
from handover.core.errors import DomainError, NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Organisation, OrgType, Person, Role, Site
from handover.org.selectors import firm_label_for, grants_for, has_capability, site_list, site_scope
from handover.registers import catalogue
from handover.registers.attachments import attachment_store
from handover.registers.columns import Column
from handover.registers.models import (
    Account,
    Asset,
    Attachment,
    BackupItem,
    CommunicationLine,
    Contract,
    Document,
    Form,
    FormState,
    InformationSystem,
    Row,
    Signature,
    SignatureKind,
    Software,
)
from handover.registers.signing import ARCHIVERS, ROW_SIGNERS, footer_roles

PAGE_SIZE = 50

# The entity a ``ref`` column points at, and the path from it to the site that scopes it ("" = none).
ENTITY_MODELS: dict[str, tuple[type[Model], str]] = {
    "site": (Site, "self"),
    "org": (Organisation, ""),
    "person": (Person, "site"),
    "system": (InformationSystem, "site"),
    "asset": (Asset, "site"),
    "software": (Software, ""),
    "contract": (Contract, ""),
    "account": (Account, "system__site"),
    "line": (CommunicationLine, "a_site"),
    "document": (Document, "site"),
    "backup_item": (BackupItem, "site"),
}


def _scoped_sites(*, user: Any, engagement: Engagement, capability: str) -> QuerySet[Site, Any] | None:
    """The sites where ``capability`` holds, as a subquery; None when it holds nowhere."""
    scope = site_scope(user=user, engagement=engagement, capability=capability)
    if scope is None:
        return None
    return Site.objects.filter(scope, engagement=engagement).values("pk")


def form_list(
    *,
    user: Any,
    engagement: Engagement,
    register_no: int | None = None,
    site: Site | None = None,
    state: str = "",
    phase: str = "",
    capability: str = perms.VIEW_REGISTERS,
    include_superseded: bool = False,
) -> QuerySet[Form]:
    """Forms at the user's sites; ``site`` includes its subtree (a 营业部 and its 服务部)."""
    sites = _scoped_sites(user=user, engagement=engagement, capability=capability)
    if sites is None:
        return Form.objects.none()
    qs = Form.objects.filter(engagement=engagement, site__in=sites).select_related("site")
    if not include_superseded:
        qs = qs.filter(is_current=True)
    if register_no is not None:
        qs = qs.filter(register_no=register_no)
    elif phase:
        qs = qs.filter(register_no__in=[s.number for s in catalogue.REGISTERS if s.phase == phase])
    if site is not None:
        qs = qs.filter(site__path__startswith=site.path)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-form_date", "-pk")


def form_get(
    *, user: Any, engagement: Engagement, form_id: int, capability: str = perms.VIEW_REGISTERS
) -> Form:
    """One form (any version) at the user's sites."""
    form = (
        form_list(user=user, engagement=engagement, capability=capability, include_superseded=True)
        .filter(pk=form_id)
        .select_related("engagement", "previous")
        .first()
    )
    if form is None:
        raise NotFound(_("No register form %(id)s is open to you here.") % {"id": form_id}, field="form")
    return form


def form_versions(*, form: Form) -> list[Form]:
    """Every version of a form (same 编号), oldest first, with their footer signatures."""
    return list(
        Form.objects.filter(engagement_id=form.engagement_id, form_no=form.form_no)
        .prefetch_related(Prefetch("signatures", queryset=Signature.objects.select_related("person")))
        .order_by("version")
    )


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


def row_list(*, user: Any, engagement: Engagement, filters: RowFilters) -> QuerySet[Row]:
    """Current rows of current forms at the user's sites, narrowed by ``filters``, unordered.

    On SQLite the form-side conditions (engagement, register, site) are written so that no index of the
    forms table can drive the plan (``+ 0``, see ``_unindexed``): SQLite then walks the rows' (form, 序号)
    index in page order, checks each row's form by its key and stops after one page. Left to itself, it
    gathered every row of the register through the forms' index and sorted them all for each page (220 ms
    against 1 ms for a page of a 100,000-row register; docs/benchmarks.md).
    """
    scope = site_scope(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    if scope is None:
        return Row.objects.none()
    qs = Row.objects.filter(is_current=True, form__is_current=True)
    qs = qs.filter(Exact(_unindexed("form__engagement_id"), engagement.pk))
    if scope != Q():
        qs = qs.filter(
            In(
                _unindexed("form__site_id"),
                Site.objects.filter(scope, engagement=engagement).order_by().values("pk"),
            )
        )
    if filters.form is not None:
        qs = qs.filter(form=filters.form)
    if filters.site is not None:
        qs = qs.filter(
            In(
                _unindexed("form__site_id"),
                Site.objects.filter(path__startswith=filters.site.path).order_by().values("pk"),
            )
        )
    if filters.register_no is not None:
        qs = qs.filter(Exact(_unindexed("form__register_no"), filters.register_no))
    elif filters.phase:
        numbers = [s.number for s in catalogue.REGISTERS if s.phase == filters.phase]
        qs = qs.filter(In(_unindexed("form__register_no"), numbers))
    if filters.register_no is not None and filters.form is None and _on_sqlite():
        qs = _within_forms(qs, engagement, filters.register_no, filters.site, scope)
    if filters.state:
        qs = qs.filter(form__state=filters.state)
    for key, value in filters.columns.items():
        qs = qs.filter(**{f"data__{key}": value})
    if filters.q:
        qs = _search(qs, filters.q)
    return qs.select_related("form", "form__site")


def _within_forms(
    qs: QuerySet[Row], engagement: Engagement, register_no: int, site: Site | None, scope: Q
) -> QuerySet[Row]:
    """Bound SQLite's walk by the first and last form of the register in scope (two indexed look-ups), so
    a branch whose rows are a small part of a large register is not looked for among everybody's rows.
    (PostgreSQL, not knowing the bounds when it plans, would guess two rows and sort them all.)"""
    forms = Form.objects.filter(engagement=engagement, register_no=register_no, is_current=True)
    if scope != Q():
        forms = forms.filter(site__in=Site.objects.filter(scope, engagement=engagement).values("pk"))
    if site is not None:
        forms = forms.filter(site__path__startswith=site.path)
    return qs.filter(
        form_id__gte=Subquery(forms.order_by("pk").values("pk")[:1]),
        form_id__lte=Subquery(forms.order_by("-pk").values("pk")[:1]),
    )


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


@dataclass
class RowPage:
    """One page of rows; ``next_after`` / ``prev_before`` are the cursors of the neighbouring pages."""

    rows: list[Row]
    next_after: str | None
    prev_before: str | None
    is_first: bool
    is_last: bool


def _key(row: Row) -> str:
    return f"{row.form_id}.{row.seq}"


def row_page(*, rows: QuerySet[Row], cursor: Cursor, size: int = PAGE_SIZE) -> RowPage:
    """One page by seek: a single query of ``size + 1`` rows, whichever page is asked for."""
    backwards = cursor.before is not None or cursor.last
    if cursor.after is not None:
        form_id, seq = cursor.after
        rows = rows.filter(Q(form_id__gt=form_id) | Q(form_id=form_id, seq__gt=seq))
    elif cursor.before is not None:
        form_id, seq = cursor.before
        rows = rows.filter(Q(form_id__lt=form_id) | Q(form_id=form_id, seq__lt=seq))
    ordered = rows.order_by("-form_id", "-seq") if backwards else rows.order_by("form_id", "seq")
    found = list(ordered[: size + 1])
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


def row_signatures(*, rows: list[Row]) -> dict[int, dict[str, Signature]]:
    """The executor and supervisor signatures of the given rows, by row and kind, in one query."""
    found: dict[int, dict[str, Signature]] = defaultdict(dict)
    if rows:
        for signature in Signature.objects.filter(row__in=[r.pk for r in rows]).select_related("person"):
            found[signature.row_id][signature.kind] = signature  # type: ignore[index]
    return found


def row_get(*, user: Any, engagement: Engagement, row_id: int, capability: str = perms.VIEW_REGISTERS) -> Row:
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


def attachment_get(*, user: Any, engagement: Engagement, attachment_id: int) -> Attachment:
    """One evidence file on a form or a row at the user's sites (a form-level file has no row)."""
    sites = _scoped_sites(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    found = None
    if sites is not None:
        found = (
            Attachment.objects.filter(pk=attachment_id, form__engagement=engagement, form__site__in=sites)
            .select_related("form", "row")
            .first()
        )
    if found is None:
        raise NotFound(_("No attachment %(id)s is open to you here.") % {"id": attachment_id}, field="file")
    return found


def column_files(
    *,
    engagement: Engagement,
    columns: tuple[Column, ...],
    rows: list[Row] | None = None,
    forms: list[Form] | None = None,
) -> dict[str, Attachment]:
    """The attachments the ``att`` values (SHA-256) of these rows or form headers stand for, in one query."""
    keys = [c.key for c in columns if c.type == "att"]
    holders = [(r.form.form_no, r.data) for r in rows or []] + [(f.form_no, f.header) for f in forms or []]
    hashes = {values[k] for _no, values in holders for k in keys if isinstance(values.get(k), str)}
    if not hashes:
        return {}
    found = Attachment.objects.filter(
        form__engagement=engagement, form__form_no__in={no for no, _v in holders}, sha256__in=hashes
    )
    return {a.sha256: a for a in found}


def attachment_open(*, attachment: Attachment) -> BinaryIO:
    """The stored file, after checking it still has the SHA-256 recorded when it was attached."""
    try:
        return attachment_store().open(attachment.sha256)
    except filestore.Missing:
        raise DomainError(
            _("The stored file of %(name)s is missing; report this to the technical group.")
            % {"name": attachment.name},
            field="file",
        ) from None
    except filestore.Changed:
        raise DomainError(
            _(
                "The stored file of %(name)s no longer matches the SHA-256 recorded when it was attached; "
                "report this to the technical group."
            )
            % {"name": attachment.name},
            field="file",
        ) from None


def ref_choices(*, user: Any, engagement: Engagement, ref: str) -> QuerySet[Any]:
    """The entities a ``ref`` column may point at for this user: active ones at the user's sites."""
    model, site_path = ENTITY_MODELS[ref]
    if model is Site:
        return site_list(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    qs = model._default_manager.filter(engagement=engagement, is_active=True)
    if site_path:
        sites = _scoped_sites(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
        if sites is None:
            return qs.none()
        if site_scope(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS) != Q():
            within = Q(**{f"{site_path}__in": sites})
            qs = qs.filter(within | Q(site__isnull=True) if model is Person else within)
    return qs


def register_rows(*, user: Any, engagement: Engagement, refs: str) -> QuerySet[Row]:
    """Rows a register reference (``T39``, ``T11|T12``) may point at: current rows the user can see."""
    numbers = [int(part[1:]) for part in refs.split("|")]
    sites = _scoped_sites(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    if sites is None:
        return Row.objects.none()
    return Row.objects.filter(
        is_current=True, form__engagement=engagement, form__register_no__in=numbers, form__site__in=sites
    )


def ref_labels(
    *, engagement: Engagement, columns: tuple[Column, ...], rows: list[Row], user: Any = None
) -> dict[str, dict]:
    """Display names of the entities and rows the given rows point at: ``{ref: {id: label}}``.

    One query per kind of reference the register has, whatever the number of rows. With ``user``, the firm's
    organisation is named as 第十一条 lets that user read it.
    """
    wanted: dict[str, set[int]] = defaultdict(set)
    for column in columns:
        if column.type not in ("ref", "refs"):
            continue
        for row in rows:
            value = row.data.get(column.key)
            found_ids = value if isinstance(value, list) else [value] if value is not None else []
            wanted[column.ref].update(i for i in found_ids if isinstance(i, int))
    labels: dict[str, dict] = {}
    for ref, ids in wanted.items():
        if ref in ENTITY_MODELS:
            model = ENTITY_MODELS[ref][0]
            found = model._default_manager.filter(engagement=engagement, pk__in=ids)
            labels[ref] = {obj.pk: str(obj) for obj in found}
            if ref == "org" and user is not None:
                hidden = firm_label_for(user=user, engagement=engagement)
                labels[ref].update(
                    {o.pk: hidden for o in found if hidden and getattr(o, "type", "") == OrgType.FIRM}
                )
        else:
            found_rows = Row.objects.filter(form__engagement=engagement, pk__in=ids).select_related("form")
            labels[ref] = {r.pk: f"表{r.form.register_no} {r.form.form_no} #{r.seq}" for r in found_rows}
    return labels


@dataclass
class RegisterCount:
    """The counts of one register over the user's sites (or the chosen site)."""

    spec: catalogue.RegisterSpec
    forms: dict[str, int]
    rows: int
    by_site: list[tuple[Site, int]]


@dataclass
class AnnexGroup:
    annex: str
    title: str
    phase: str
    registers: list[RegisterCount]


def register_index(
    *, user: Any, engagement: Engagement, site: Site | None = None, phase: str = ""
) -> list[AnnexGroup]:
    """The 41 registers grouped by 附件, with form counts by state and row counts per visible site.

    Three queries whatever the number of sites, forms and rows.
    """
    sites = {s.pk: s for s in site_list(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)}
    forms = form_list(user=user, engagement=engagement, site=site)
    form_counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for number, state, n in forms.order_by().values_list("register_no", "state").annotate(n=Count("id")):
        form_counts[number][state] += n
    rows = row_list(user=user, engagement=engagement, filters=RowFilters(site=site))
    per_site: dict[int, list[tuple[Site, int]]] = defaultdict(list)
    counted = rows.order_by().values_list("form__register_no", "form__site_id").annotate(n=Count("id"))
    for number, site_id, n in counted:
        if site_id in sites:
            per_site[number].append((sites[site_id], n))
    groups: list[AnnexGroup] = []
    for annex, (title, annex_phase) in catalogue.ANNEXES.items():
        if phase and phase != annex_phase:
            continue
        registers = [
            RegisterCount(
                spec=spec,
                forms={s: form_counts[spec.number].get(s, 0) for s in FormState.values},
                rows=sum(n for _site, n in per_site[spec.number]),
                by_site=sorted(per_site[spec.number], key=lambda pair: pair[0].path),
            )
            for spec in catalogue.REGISTERS
            if spec.annex == annex
        ]
        groups.append(AnnexGroup(annex=annex, title=title, phase=annex_phase, registers=registers))
    return groups


def roles_at(*, user: Any, engagement: Engagement, site: Site) -> set[str]:
    """The roles the user holds at ``site`` (directly, above it, or engagement-wide)."""
    return {
        g.role
        for g in grants_for(user)
        if g.engagement_id == engagement.pk and (not g.site_path or site.path.startswith(g.site_path))
    }


@dataclass
class FormActions:
    """What the user may try on a form: buttons to show. The services decide, and refuse with a reason."""

    fill: bool
    submit: bool
    correct: bool
    archive: bool
    footer_roles: list[str]
    row_kinds: list[str]


def form_actions(*, user: Any, form: Form) -> FormActions:
    """The actions to offer on ``form`` to this user, from the roles they hold at its site."""
    if isinstance(user, SystemActor):
        return FormActions(False, False, False, False, [], [])
    engagement, site = form.engagement, form.site
    can_fill = has_capability(user=user, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    open_ = form.is_current and form.state in (FormState.DRAFT, FormState.SUBMITTED)
    held = roles_at(user=user, engagement=engagement, site=site)
    given = {s.role for s in form.signatures.all()}
    footer = [
        role
        for role in footer_roles(form.register_no)
        if role in held and role not in given and form.state == FormState.SUBMITTED and form.is_current
    ]
    kinds: list[str] = []
    if catalogue.get(form.register_no).dual_signature and open_:
        kinds = [kind for kind, roles in ROW_SIGNERS.items() if roles & held]
    return FormActions(
        fill=can_fill and open_,
        submit=can_fill and form.is_current and form.state == FormState.DRAFT,
        correct=can_fill and form.is_current and form.state == FormState.SIGNED,
        archive=bool(held & ARCHIVERS) and form.is_current and form.state == FormState.SIGNED,
        footer_roles=footer,
        row_kinds=kinds,
    )


def signature_kind_label(kind: str) -> str:
    return str(SignatureKind(kind).label)


def role_label(role: str) -> str:
    return str(Role(role).label)

"""References between registers: the choices a reference column offers and the names it shows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import (
    Q,
    QuerySet,
)

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement, OrgType, Person, Site
from handover.org.selectors import firm_label_for, site_list, site_scope
from handover.registers.columns import Column
from handover.registers.models import (
    Row,
)
from handover.registers.selectors.common import ENTITY_MODELS, RowLine, _scoped_sites

# The entities whose ``str()`` is the first non-empty of these columns (InformationSystem: its name; Asset: its
# host name, else its name), read as values by ``ref_labels``; tests/registers/test_ref_labels.py holds them
# to ``str()``.
_LABEL_FIELDS: dict[str, tuple[str, ...]] = {
    "system": ("name",),
    "asset": ("hostname", "name"),
    "contract": ("contract_no",),
    "line": ("line_no",),
    "document": ("title",),
    "backup_item": ("media_no",),
}


def ref_choices(*, user: Actor, engagement: Engagement, ref: str) -> QuerySet[Any]:
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


def register_rows(*, user: Actor, engagement: Engagement, refs: str) -> QuerySet[Row]:
    """Rows a register reference (``T39``, ``T11|T12``) may point at: current rows the user can see."""
    numbers = [int(part[1:]) for part in refs.split("|")]
    sites = _scoped_sites(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    if sites is None:
        return Row.objects.none()
    return Row.objects.filter(
        is_current=True, form__engagement=engagement, form__register_no__in=numbers, form__site__in=sites
    )


def ref_labels(
    *,
    engagement: Engagement,
    columns: tuple[Column, ...],
    rows: Sequence[Row | RowLine],
    user: Actor | None = None,
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
        if not ids:  # no row points anywhere through this column: nothing to read (issue 18)
            labels[ref] = {}
            continue
        if ref in ENTITY_MODELS:
            model = ENTITY_MODELS[ref][0]
            # Unordered: the labels go into a dict, and the models' default order was a third of the cost.
            found = model._default_manager.filter(engagement=engagement, pk__in=ids).order_by()
            if ref in _LABEL_FIELDS:  # the columns their str() reads, not whole models (issue 18)
                named = found.values_list("pk", *_LABEL_FIELDS[ref])
                labels[ref] = {pk: next((v for v in names if v), "") for pk, *names in named}
                continue
            labels[ref] = {obj.pk: str(obj) for obj in found}
            if ref == "org" and user is not None:
                hidden = firm_label_for(user=user, engagement=engagement)
                labels[ref].update(
                    {o.pk: hidden for o in found if hidden and getattr(o, "type", "") == OrgType.FIRM}
                )
        else:
            found_rows = (
                Row.objects.filter(form__engagement=engagement, pk__in=ids).select_related("form").order_by()
            )
            labels[ref] = {r.pk: f"表{r.form.register_no} {r.form.form_no} #{r.seq}" for r in found_rows}
    return labels

"""The register index: each register's forms and rows in the user's scope, grouped by annex."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import (
    Count,
)

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import site_list
from handover.registers import catalogue
from handover.registers.models import (
    FormState,
)
from handover.registers.selectors.forms import form_list
from handover.registers.selectors.rows import RowFilters, row_list


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
    *, user: Actor, engagement: Engagement, site: Site | None = None, phase: str = ""
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

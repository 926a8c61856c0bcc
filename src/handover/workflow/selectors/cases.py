"""Exception cases (第二十八条): one case and its evidence, the list, the checklist, the 表39 entries to link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.registers import catalogue
from handover.workflow import paths
from handover.workflow.models import (
    Evidence,
    ExceptionCase,
)
from handover.workflow.selectors.common import _sites


def case_get(
    *, user: Actor, engagement: Engagement, case_id: int, capability: str = perms.VIEW_WORKFLOW
) -> ExceptionCase:
    case = (
        ExceptionCase.objects.filter(
            engagement=engagement, pk=case_id, site__in=_sites(user, engagement, capability)
        )
        .select_related("site", "engagement", "source_row__form", "t39_row__form")
        .first()
    )
    if case is None:
        raise NotFound(_("No exception case %(id)s is open to you.") % {"id": case_id}, field="case")
    return case


def evidence_get(*, user: Actor, engagement: Engagement, evidence_id: int) -> Evidence:
    """An evidence file of a step or a checklist item at the user's sites."""
    sites = _sites(user, engagement, perms.VIEW_WORKFLOW)
    evidence = (
        Evidence.objects.filter(engagement=engagement, pk=evidence_id)
        .filter(
            Q(step__site__in=sites)
            | Q(step__isnull=False, step__site__isnull=True)
            | Q(step__isnull=True, case_items__case__site__in=sites)
        )
        .first()
    )
    if evidence is None:
        raise NotFound(_("No file %(id)s is open to you.") % {"id": evidence_id}, field="evidence")
    return evidence


def t39_choices(*, case: ExceptionCase) -> list[tuple[int, str]]:
    """The current 表39 rows at the case's site, of the case's type, to link as its entry."""
    from handover.registers.models import Row

    rows = Row.objects.filter(
        form__engagement_id=case.engagement_id,
        form__site_id=case.site_id,
        form__register_no=catalogue.FAULT_RISK_LOG,
        form__is_current=True,
        is_current=True,
        data__exc_type__startswith=case.path_id,
    ).select_related("form")
    return [(r.pk, f"{r.form.form_no} #{r.seq} · {r.form.get_state_display()}") for r in rows]


def case_list(
    *,
    user: Actor,
    engagement: Engagement,
    case_state: str = "",
    path_id: str = "",
    site: Site | None = None,
) -> QuerySet[ExceptionCase]:
    """Exception cases at the user's sites (``site``: that site and its subtree), newest first."""
    sites = _sites(user, engagement, perms.VIEW_WORKFLOW)
    if site is not None:
        sites = sites.filter(path__startswith=site.path)
    cases = ExceptionCase.objects.filter(engagement=engagement, site__in=sites)
    if case_state:
        cases = cases.filter(state=case_state)
    if path_id:
        cases = cases.filter(path_id=path_id)
    return cases.select_related("site").order_by("-opened_at", "-pk")


@dataclass(frozen=True)
class ChecklistEntry:
    """A prescribed item of a case's path, with what was recorded when it was done (None: not yet)."""

    item: paths.Item
    done: Any


def case_checklist(*, case: ExceptionCase) -> list[ChecklistEntry]:
    """The items of the case's path that apply to its sub-type, in the path's order (the case was read
    through ``case_get``)."""
    done = {i.key: i for i in case.items.select_related("evidence")}
    return [
        ChecklistEntry(item, done.get(item.key))
        for item in paths.BY_ID[case.path_id].items
        if item.applies(case.sub_type)
    ]

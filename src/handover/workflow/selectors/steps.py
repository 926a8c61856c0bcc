"""A site's page and its steps: one step with its view, the register rows it produced, the filtered step list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Site
from handover.workflow import paths, state, steps
from handover.workflow.models import (
    ExceptionCase,
    Feedback,
    StepInstance,
)
from handover.workflow.selectors.common import _as_int, _scope, _sites
from handover.workflow.selectors.overview import _as_told


@dataclass
class SitePage:
    site: Site
    views: list[state.StepView]
    cases: list[ExceptionCase]
    feedback: list[Feedback]
    groups: list[tuple[str, list[state.StepView]]] = field(default_factory=list)  # by phase, in order


def site_page(*, user: Actor, engagement: Engagement, site_id: int, now: dt.datetime) -> SitePage:
    """One site's steps with state, deadline and feedback, and its exception cases."""
    site = _sites(user, engagement, perms.VIEW_WORKFLOW).filter(pk=site_id).first()
    if site is None:
        raise NotFound(_("No site %(id)s is open to you in this engagement.") % {"id": site_id}, field="site")
    views = state.compute(engagement=engagement, now=now)
    mine, groups = state.derived(
        views, ("site", site.pk, get_language()), lambda: _site_steps(views, site.pk)
    )
    return SitePage(
        site=site,
        views=mine,
        groups=groups,
        cases=list(ExceptionCase.objects.filter(engagement=engagement, site=site).order_by("-opened_at")),
        feedback=list(
            Feedback.objects.filter(step__site=site)
            .select_related("step", "reported_by")
            .order_by("-reported_at")
        ),
    )


def _site_steps(
    views: dict[state.Key, state.StepView], site_id: int
) -> tuple[list[state.StepView], list[tuple[str, list[state.StepView]]]]:
    """A site's steps in 附件二 order, and grouped by phase."""
    mine = sorted((v for v in views.values() if v.site_id == site_id), key=lambda v: steps.ORDER[v.step.id])
    groups = [
        (str(label), [v for v in mine if v.step.phase == value])
        for value, label in Phase.choices
        if any(v.step.phase == value for v in mine)
    ]
    return mine, groups


def step_get(
    *, user: Actor, engagement: Engagement, instance_id: int, capability: str = perms.VIEW_WORKFLOW
) -> StepInstance:
    """A step instance at a site the user may act on with ``capability`` (engagement-level ones for any
    holder of it)."""
    scope = _scope(user, engagement, capability)
    instance = (
        StepInstance.objects.filter(engagement=engagement, pk=instance_id)
        .filter(Q(site__isnull=True) | Q(site__in=Site.objects.filter(scope, engagement=engagement)))
        .select_related("site", "engagement", "confirmed_by")
        .first()
    )
    if instance is None:
        raise NotFound(
            _("No step %(id)s is open to you in this engagement.") % {"id": instance_id}, field="step"
        )
    return instance


def step_view(
    *, user: Actor, engagement: Engagement, instance: StepInstance, now: dt.datetime
) -> state.StepView:
    """The derived state of one step instance (the caller has read it through ``step_get``), its reasons as
    the user may read them."""
    views = [state.compute(engagement=engagement, now=now)[(instance.site_id, instance.step_id)]]
    _as_told(user, engagement, views)
    return views[0]


@dataclass(frozen=True)
class RegisterRows:
    """A current form of one of a step's output registers at the step's site, with its current rows and the
    exception paths a problem in one of them starts."""

    form: Any
    rows: list[RowLine]
    starts: list[paths.Path]


@dataclass(frozen=True)
class RowLine:
    """One row as the step page shows it (UX review M8): its system by name, not id, and whether a 第二十八条 path
    is already under way for it (an open case from it, or a 表39 entry it links), so no second one is offered."""

    row: Any
    system: str
    case: ExceptionCase | None
    linked_t39: bool


ROWS_SHOWN = 50


def step_register_rows(*, user: Actor, engagement: Engagement, instance: StepInstance) -> list[RegisterRows]:
    """The forms and rows behind a step at its site (the instance was read through ``step_get``)."""
    from handover.registers.models import Form

    spec = steps.BY_ID[instance.step_id]
    if instance.site_id is None or not spec.outputs:
        return []
    forms = list(
        Form.objects.filter(
            engagement=engagement, site_id=instance.site_id, register_no__in=spec.outputs, is_current=True
        )
        .prefetch_related("rows")
        .order_by("register_no", "form_no")
    )
    from handover.registers.models import InformationSystem

    current = {form.pk: [r for r in form.rows.all() if r.is_current][:ROWS_SHOWN] for form in forms}
    every = [row for rows in current.values() for row in rows]
    system_ids = {_as_int(row.data.get("system_id")) for row in every} - {None}
    names = dict(
        InformationSystem.objects.filter(engagement=engagement, pk__in=system_ids).values_list("pk", "name")
    )
    cases = {
        case.source_row_id: case
        for case in ExceptionCase.objects.filter(
            engagement=engagement, source_row__in=[row.pk for row in every]
        ).order_by("opened_at")
    }
    result = []
    for form in forms:
        lines = [
            RowLine(
                row,
                names.get(_as_int(row.data.get("system_id")) or 0, ""),
                cases.get(row.pk),
                bool(row.data.get("exception_refs")),
            )
            for row in current[form.pk]
        ]
        starts = [paths.BY_ID[p] for p in spec.exceptions if form.register_no in paths.BY_ID[p].sources]
        result.append(RegisterRows(form, lines, starts))
    return result


@dataclass(frozen=True)
class StepList:
    """Step instances with their derived state at the user's sites, and the codes of those sites."""

    views: list[state.StepView]
    site_codes: dict[int, str]


def step_list(
    *,
    user: Actor,
    engagement: Engagement,
    now: dt.datetime,
    site: Site | None = None,
    phase: str = "",
    state_: str = "",
) -> StepList:
    """Every step instance the user may see, in 附件二 order per site: those of ``site`` and its subtree
    when it is given (engagement-level steps only without it), of ``phase`` and in ``state_`` if given.
    A fixed number of queries, whatever the number of sites."""
    sites = _sites(user, engagement, perms.VIEW_WORKFLOW)
    if site is not None:
        sites = sites.filter(path__startswith=site.path)
    codes = dict(sites.values_list("pk", "code"))
    views = [
        v
        for v in state.compute(engagement=engagement, now=now).values()
        if (v.site_id in codes or (v.site_id is None and site is None))
        and (not phase or v.step.phase == phase)
        and (not state_ or v.state == state_)
    ]
    _as_told(user, engagement, views, set(codes))
    views.sort(key=lambda v: (v.site_id is not None, codes.get(v.site_id or 0, ""), steps.ORDER[v.step.id]))
    return StepList(views=views, site_codes=codes)

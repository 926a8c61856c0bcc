"""Reading what the step instances derive from (state/derive.py): per site, or for the engagement-level steps,
in a fixed number of queries whatever the number of sites."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Max, Min, Q
from django.utils.translation import gettext as _

from handover.org.models import Engagement, Site, SiteLevel
from handover.registers import completeness
from handover.registers.models import Form
from handover.workflow import deadlines, gates, routine, steps
from handover.workflow.models import Escalation, Feedback, StepInstance
from handover.workflow.state.derive import NO_FORMS, SIGNED, Status, _Inputs


def _register_status(engagement: Engagement, site_ids: set[int] | None = None) -> Status:
    """Site → register → (a current form exists, every current form is signed, when the last was signed), for
    ``site_ids`` (None: every site)."""
    outputs = {number for step in steps.STEPS for number in step.outputs}
    forms = Form.objects.filter(engagement=engagement, is_current=True, register_no__in=outputs)
    if site_ids is not None:
        forms = forms.filter(site_id__in=site_ids)
    rows = (
        forms.values("site_id", "register_no")
        .annotate(
            n=Count("id", distinct=True),
            signed=Count("id", filter=Q(state__in=SIGNED), distinct=True),
            last=Max("signatures__signed_at", filter=Q(state__in=SIGNED)),
            reopened=Max("created_at", filter=~Q(state__in=SIGNED)),
        )
        .values_list("site_id", "register_no", "n", "signed", "last", "reopened")
        .order_by()
    )
    status: Status = defaultdict(dict)
    for site_id, number, n, signed, last, reopened in rows:
        status[site_id][number] = (n > 0, n == signed, last, reopened)
    return dict(status)


def _read_sites(
    engagement: Engagement, site_ids: set[int] | None, now: dt.datetime, facts: completeness.Facts
) -> dict[int, _Inputs]:
    """The inputs of the per-site step instances of ``site_ids`` (None: every site), in a fixed number of
    queries, by site; the coverage rules read ``facts`` (every site's covered registers)."""
    instances = StepInstance.objects.filter(engagement=engagement, site__isnull=False)
    if site_ids is not None:
        instances = instances.filter(site_id__in=site_ids)
    found: dict[int, _Inputs] = {}
    site_of: dict[int, int] = {}
    for pk, site_id, step_id, confirmed_at, created_at in instances.values_list(
        "pk", "site_id", "step_id", "confirmed_at", "created_at"
    ):
        found.setdefault(site_id, _Inputs({site_id: NO_FORMS})).instances.append(
            (pk, step_id, confirmed_at, created_at)
        )
        site_of[pk] = site_id
    status = _register_status(engagement, site_ids)
    for site_id, inputs in found.items():
        inputs.forms = {site_id: status.get(site_id, NO_FORMS)}
    steps_of = Q(step__engagement=engagement, step__site__isnull=False)
    if site_ids is not None:
        steps_of &= Q(step__site_id__in=site_ids)
    _read_reports(steps_of, {pk: found[site_id] for pk, site_id in site_of.items()})
    pairs = [(site_of[pk], step_id) for f in found.values() for pk, step_id, _c, _t in f.instances]
    blocks = gates.blocking_reasons(engagement=engagement, pairs=pairs, facts=facts)
    for (at_site, step_id), reasons in blocks.items():
        if at_site in found:
            found[at_site].blocks[step_id] = reasons
    _read_routine(engagement, found, site_ids, now)
    return found


def _read_reports(steps_of: Q, owner: dict[int, _Inputs]) -> None:
    """The same-day feedback and the escalations of the instances ``steps_of`` selects, into the inputs of
    their part (``owner``, by instance)."""
    for pk, first, n in (
        Feedback.objects.filter(steps_of)
        .values("step_id")
        .annotate(first=Min("reported_at"), n=Count("id"))
        .values_list("step_id", "first", "n")
    ):
        owner[pk].feedback[pk] = (first, n)
    for pk, raised_at, report_id in Escalation.objects.filter(steps_of).values_list(
        "step_id", "raised_at", "wg_report_id"
    ):
        owner[pk].escalated[pk] = (raised_at, report_id is not None)


def _read_routine(
    engagement: Engagement, found: dict[int, _Inputs], site_ids: set[int] | None, now: dt.datetime
) -> None:
    """The 稳定期 steps whose routine lapsed (routine.py's reminders, one query, and 表41 of the last trading
    day in one more), into their site's part, for the day of ``now``."""
    today = now.astimezone(deadlines.BEIJING).date()
    for inputs in found.values():
        inputs.day = today
    stable = {
        site_id
        for site_id, inputs in found.items()
        for _pk, step_id, _c, _t in inputs.instances
        if step_id in steps.BY_ID and steps.BY_ID[step_id].phase == steps.STABILISATION
    }
    if not stable:
        return
    sites = None if site_ids is None else Site.objects.filter(pk__in=site_ids)
    for item in routine.due_items(engagement=engagement, sites=sites, today=today):
        step_id = routine.ROUTINE_STEPS.get(item.register_no)
        if step_id and item.lapsed and item.site_id in found:
            found[item.site_id].lapses.setdefault(step_id, []).append(item.reason)
    day = routine.last_trading_day(today)
    # A site owes 表41 for the trading days wholly in its 稳定期, from the day after its S-09 was created.
    owing = {
        site_id
        for site_id in stable
        for _pk, step_id, _c, created_at in found[site_id].instances
        if step_id == routine.DAILY_REPORT_STEP
        and created_at is not None
        and created_at.astimezone(deadlines.BEIJING).date() < day
    }
    if owing:
        for site_id in routine.daily_report_missing(engagement=engagement, site_ids=owing, day=day):
            found[site_id].lapses.setdefault(routine.DAILY_REPORT_STEP, []).append(
                _("表41 of %(day)s is missing or not signed") % {"day": day}
            )


def _read_engagement_steps(engagement: Engagement) -> _Inputs:
    """The inputs of the engagement-level step instances: head office's forms (where 技术组 files them), their
    feedback, escalations and gates."""
    hq_ids = list(Site.objects.filter(engagement=engagement, level=SiteLevel.HQ).values_list("pk", flat=True))
    status = _register_status(engagement, set(hq_ids)) if hq_ids else {}
    inputs = _Inputs({site_id: status.get(site_id, NO_FORMS) for site_id in hq_ids})
    inputs.instances = list(
        StepInstance.objects.filter(engagement=engagement, site__isnull=True).values_list(
            "pk", "step_id", "confirmed_at", "created_at"
        )
    )
    _read_reports(
        Q(step__engagement=engagement, step__site__isnull=True),
        {pk: inputs for pk, *_rest in inputs.instances},
    )
    pairs = [(None, step_id) for _pk, step_id, _c, _t in inputs.instances]
    for (_site, step_id), reasons in gates.blocking_reasons(engagement=engagement, pairs=pairs).items():
        inputs.blocks[step_id] = reasons
    return inputs

"""Same-day feedback, the end-of-day escalation and 技术组's reports to the working group (第二十七条第2项)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock, turns
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.notifications.links import Link
from handover.notifications.selectors import links_told
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Role, Site
from handover.org.selectors import require
from handover.workflow import deadlines, events, state, steps, topics
from handover.workflow.models import Escalation, Feedback, StepInstance, WorkingGroupReport
from handover.workflow.services.common import acting_person, clean_text, step_label

# Same-day feedback, escalation, reports to the working group (第二十七条第2项) ---------------------------


def feedback_record(
    *, actor: Actor, step: StepInstance, reason: str, expected_at: dt.datetime, now: dt.datetime | None = None
) -> Feedback:
    """The site's 现场技术岗位 reports that a step cannot be done in time, or its content cannot be had: why,
    and when it is expected (第二十七条第2项: 现场技术岗位当日应将情况反馈至技术组)."""
    require(user=actor, engagement=step.engagement, capability=perms.REPORT_FEEDBACK, site=step.site)
    if step.site is None:
        raise DomainError(_("Same-day feedback is for a site's steps."), field="step")
    if steps.BY_ID[step.step_id].derived:
        raise DomainError(
            _("%(step)s follows the site's other steps: report the late step itself.")
            % {"step": step_label(step.step_id)},
            field="step",
        )
    person, _role = acting_person(actor, step.engagement, step.site, {Role.ONSITE_POST})
    clean = clean_text(reason, "reason")
    at = clock.or_now(now)
    if expected_at.tzinfo is None:
        expected_at = expected_at.replace(tzinfo=deadlines.BEIJING)
    if expected_at <= at:
        raise DomainError(_("The expected completion must be later than now."), field="expected_at")
    view = state.compute(engagement=step.engagement, now=at)[(step.site_id, step.step_id)]
    if view.finished:
        raise DomainError(_("This step is done; there is nothing to report."), field="step")
    with transaction.atomic():
        feedback = Feedback.objects.create(
            step=step, reason=clean, expected_at=expected_at, reported_by=person, reported_at=at
        )
        event_record(
            actor=actor,
            action=events.FEEDBACK_RECORD,
            engagement_id=step.engagement_id,
            site_id=step.site_id,
            obj=feedback,
            after={"step": step.step_id, "reason": clean, "expected_at": expected_at, "due": view.due},
        )
        notify(
            actor=actor,
            engagement=step.engagement,
            topic=topics.FEEDBACK,
            site=step.site,
            title=_("%(site)s: %(step)s late, reported")
            % {"site": step.site.name, "step": step_label(step.step_id)},
            body=_("%(reason)s (expected %(at)s)")
            % {"reason": clean, "at": f"{expected_at.astimezone(deadlines.BEIJING):%m-%d %H:%M}"},
            link=Link("workflow:step", code=step.engagement.code, instance_id=step.pk),
            summary_title=_("A site reported a late step"),
            now=at,
        )
    return feedback


def escalations_raise(
    *, actor: Actor, engagement: Engagement, now: dt.datetime | None = None
) -> list[Escalation]:
    """Raise to 技术组 every site step overdue with no feedback by the end of the day it fell due."""
    at = clock.or_now(now)
    views = state.compute(engagement=engagement, now=at)
    late = [v for v in views.values() if v.needs_escalation]
    raised: list[Escalation] = []
    with transaction.atomic():
        for view in late:
            assert view.due is not None
            escalation, created = Escalation.objects.get_or_create(
                step_id=view.instance_id, defaults={"raised_at": at, "due_at": view.due}
            )
            if not created:  # another worker raised it a moment ago
                continue
            event_record(
                actor=actor,
                action=events.ESCALATION_RAISE,
                engagement_id=engagement.pk,
                site_id=view.site_id,
                obj=escalation,
                after={"step": view.step.id, "due": view.due},
            )
            raised.append(escalation)
        if raised:
            notify(
                actor=actor,
                engagement=engagement,
                topic=topics.ESCALATION,
                title=_("%(n)d late steps without same-day feedback") % {"n": len(raised)},
                body=_late_lines(late),
                link=Link("workflow:overview", code=engagement.code),
                now=at,
            )
    return raised


def feedback_due_notify(*, engagement: Engagement, now: dt.datetime | None = None) -> int:
    """Tell each site's post of every late step of its own that still needs its same-day feedback (第二十七条
    第2项), once per step; returns the steps told of. The periodic job runs it through the day."""
    at = clock.or_now(now)
    late = [v for v in state.compute(engagement=engagement, now=at).values() if v.needs_feedback]
    told = links_told(engagement=engagement, topic=topics.FEEDBACK_DUE)
    sites = Site.objects.in_bulk({v.site_id for v in late})
    count = 0
    pacer = turns.Pacer()  # on SQLite, the pages' writes get the lock between the job's transactions
    for view in late:
        link = Link("workflow:step", code=engagement.code, instance_id=view.instance_id)
        site = sites[view.site_id] if view.site_id is not None else None
        if link.path() in told or site is None or view.due is None:
            continue
        # One transaction per step told, not one for them all: at 300 营业部 the whole run held SQLite's writer
        # lock (PostgreSQL's audit lock) for over 30 s and every page that writes waited (docs/benchmarks.md,
        # "The handover day under load"). A run stopped half-way tells the rest next time (links_told).
        with transaction.atomic():
            notify(
                engagement=engagement,
                topic=topics.FEEDBACK_DUE,
                site=site,
                title=_("%(site)s: %(step)s is late; report it today")
                % {"site": site.name, "step": step_label(view.step.id)},
                body=_("Due %(due)s. Say why and when it will be done, before the end of the day.")
                % {"due": f"{view.due.astimezone(deadlines.BEIJING):%m-%d %H:%M}"},
                link=link,
                summary_title=_("A step is late at a site"),
                now=at,
            )
        count += 1
        pacer.committed()
    return count


def _late_lines(late: list[state.StepView]) -> str:
    """One line per late step, "site name step", for the message to 技术组."""
    names: dict[int | None, str] = dict(
        Site.objects.filter(pk__in={v.site_id for v in late}).values_list("pk", "name")
    )
    return "\n".join(sorted(f"{names.get(v.site_id, '')} {step_label(v.step.id)}" for v in late))


def wg_report_record(
    *,
    actor: Actor,
    engagement: Engagement,
    text: str,
    feedback: list[Feedback] | None = None,
    escalations: list[Escalation] | None = None,
    now: dt.datetime | None = None,
) -> WorkingGroupReport:
    """技术组 records its report to 托管工作组 and which feedback and escalations it covered."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_WORKFLOW)
    person, _role = acting_person(actor, engagement, None, {Role.TECH_GROUP})
    clean = clean_text(text, "text")
    feedback, escalations = feedback or [], escalations or []
    if any(f.step.engagement_id != engagement.pk for f in feedback) or any(
        e.step.engagement_id != engagement.pk for e in escalations
    ):
        raise DomainError(
            _("A report covers only this engagement's feedback and escalations."), field="items"
        )
    with transaction.atomic():
        report = WorkingGroupReport.objects.create(
            engagement=engagement, text=clean, reported_by=person, reported_at=clock.or_now(now)
        )
        Feedback.objects.filter(pk__in=[f.pk for f in feedback]).update(wg_report=report)
        Escalation.objects.filter(pk__in=[e.pk for e in escalations]).update(wg_report=report)
        event_record(
            actor=actor,
            action=events.WG_REPORT,
            engagement_id=engagement.pk,
            obj=report,
            after={
                "text": clean,
                "feedback": [f.pk for f in feedback],
                "escalations": [e.pk for e in escalations],
            },
        )
    return report

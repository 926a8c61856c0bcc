"""Writes of emergency plans and drills (measures 三(四)二; guideline 第十六条第4、5项, 第二十条第9项)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.registers.models import Row
from handover.risk import events
from handover.risk.models import Drill, DrillFinding, EmergencyPlan, PlanVersion, Scenario
from handover.risk.notify import REMINDER, Link, tell
from handover.risk.services.common import allowed, register_row, who
from handover.workflow.deadlines import BEIJING


def plan_version_record(
    *,
    actor: Actor,
    engagement: Engagement,
    title: str,
    scenarios: list[str],
    procedures: str,
    effective_on: dt.date,
    site: Site | None = None,
    feasibility_checked_on: dt.date | None = None,
) -> PlanVersion:
    """A new version of the plan ``title`` (the plan is made with its first version)."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    title = (title or "").strip()
    if not title:
        raise DomainError(_("Name the plan."), field="title")
    unknown = [s for s in scenarios or [] if s not in Scenario.values]
    if not scenarios or unknown:
        raise DomainError(
            _("Choose the scenarios the plan covers from %(known)s.") % {"known": ", ".join(Scenario.values)},
            field="scenarios",
        )
    if not (procedures or "").strip():
        raise DomainError(_("Write the plan's procedures."), field="procedures")
    if site is not None and site.engagement_id != engagement.pk:
        raise DomainError(_("This site is not of this engagement."), field="site")
    with transaction.atomic():
        plan, _created = EmergencyPlan.objects.get_or_create(engagement=engagement, title=title[:200],
                                                             defaults={"site": site})  # fmt: skip
        number = (plan.versions.aggregate(n=Max("version"))["n"] or 0) + 1
        version = PlanVersion.objects.create(
            plan=plan, version=number, scenarios=sorted(set(scenarios)), procedures=procedures,
            effective_on=effective_on, feasibility_checked_on=feasibility_checked_on,
            recorded_by_name=who(actor)[1],
        )  # fmt: skip
        event_record(actor=actor, action=events.PLAN_VERSION, engagement_id=engagement.pk, obj=version,
                     after={"plan": plan.title, "version": number, "scenarios": version.scenarios})  # fmt: skip
    return version


def drill_record(
    *,
    actor: Actor,
    plan_version: PlanVersion,
    scenario: str,
    due_on: dt.date,
    held_on: dt.date | None = None,
    participants: str = "",
    target_rto_minutes: int | None = None,
    measured_rto_minutes: int | None = None,
    target_rpo_minutes: int | None = None,
    measured_rpo_minutes: int | None = None,
    outcome: str = "",
    report_ref: str = "",
    findings: list[tuple[str, Row | int | None]] | None = None,
) -> Drill:
    """A drill of one of the plan version's scenarios: planned (``due_on``) or held, with its findings, each
    treated by a 表40 row (or none yet, which stays an open item)."""
    engagement = plan_version.plan.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    if scenario not in plan_version.scenarios:
        raise DomainError(_("The plan version does not cover this scenario."), field="scenario")
    if held_on is not None and not (participants or "").strip():
        raise DomainError(_("Name the participants of the drill."), field="participants")
    numbers = (target_rto_minutes, measured_rto_minutes, target_rpo_minutes, measured_rpo_minutes)
    if any(n is not None and (not isinstance(n, int) or n < 0) for n in numbers):
        raise DomainError(_("RTO and RPO are whole minutes, not negative."), field="measured_rto_minutes")
    if held_on is None and any(n is not None for n in numbers[1::2]):
        raise DomainError(_("A drill not yet held has no measured RTO or RPO."), field="held_on")
    rows = [(problem, register_row(engagement, row, 40, "findings")) for problem, row in findings or []]
    if any(not (problem or "").strip() for problem, _row in rows):
        raise DomainError(_("Describe each finding."), field="findings")
    with transaction.atomic():
        drill = Drill.objects.create(
            engagement=engagement, plan_version=plan_version, scenario=scenario, due_on=due_on, held_on=held_on,
            participants=participants, target_rto_minutes=target_rto_minutes,
            measured_rto_minutes=measured_rto_minutes, target_rpo_minutes=target_rpo_minutes,
            measured_rpo_minutes=measured_rpo_minutes, outcome=outcome, report_ref=report_ref,
            recorded_by_name=who(actor)[1],
        )  # fmt: skip
        DrillFinding.objects.bulk_create(DrillFinding(drill=drill, problem=p, capa_row=r) for p, r in rows)
        event_record(actor=actor, action=events.DRILL_RECORD, engagement_id=engagement.pk, obj=drill,
                     after={"scenario": scenario, "due_on": str(due_on), "held_on": str(held_on or ""),
                            "findings": len(rows)})  # fmt: skip
    return drill


def drills_owed_plan(*, actor: Actor, now: dt.datetime) -> int:
    """The yearly drill (rules: ``drill_interval_days``) of each scenario a current plan version covers: when
    no drill of it is planned, one is planned for the day the interval ends after the last drill held (or
    today, if none was ever held). The overdue reminder then applies to it."""
    from handover.risk import rules

    today = now.astimezone(BEIJING).date()
    interval = dt.timedelta(days=rules.current().drill_interval_days)
    latest: dict[int, PlanVersion] = {}
    for version in PlanVersion.objects.select_related("plan__engagement").order_by("plan_id", "version"):
        latest[version.plan_id] = version
    planned = set(Drill.objects.filter(held_on__isnull=True).values_list("engagement_id", "scenario"))
    held: dict[tuple[int, str], dt.date] = {}
    for engagement_id, scenario, day in Drill.objects.filter(held_on__isnull=False).values_list(
        "engagement_id", "scenario", "held_on"
    ):
        if day is not None:
            held[(engagement_id, scenario)] = max(day, held.get((engagement_id, scenario), day))
    made = 0
    for version in latest.values():
        engagement = version.plan.engagement
        for scenario in version.scenarios:
            key = (engagement.pk, scenario)
            last = held.get(key)
            if key in planned or (last is not None and last + interval > today + dt.timedelta(days=30)):
                continue
            drill_record(actor=actor, plan_version=version, scenario=scenario,
                         due_on=max(last + interval, today) if last else today)  # fmt: skip
            planned.add(key)
            made += 1
    return made


def drills_overdue_remind(*, actor: Actor, now: dt.datetime) -> int:
    """Remind, once per drill, of each drill not held by its due date."""
    today = now.astimezone(BEIJING).date()
    told = 0
    overdue = Drill.objects.filter(held_on__isnull=True, due_on__lt=today, reminded_at__isnull=True)
    for drill in overdue.select_related("engagement", "plan_version__plan")[:1000]:
        with transaction.atomic():
            Drill.objects.filter(pk=drill.pk).update(reminded_at=now)
            title = _("Drill of %(plan)s (%(scenario)s) was due on %(due)s and is not recorded as held") % {
                "plan": drill.plan_version.plan.title, "scenario": Scenario(drill.scenario).label,
                "due": drill.due_on.isoformat(),
            }  # fmt: skip
            tell(engagement=drill.engagement, topic=REMINDER, title=title,
                 link=Link("risk:plan_list", code=drill.engagement.code))  # fmt: skip
            event_record(actor=actor, action=events.DRILL_OVERDUE, engagement_id=drill.engagement_id, obj=drill,
                         after={"due_on": drill.due_on.isoformat()})  # fmt: skip
            told += 1
    return told

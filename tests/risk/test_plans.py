"""Emergency plans and drills: versions with scenarios, the coverage matrix of the required scenarios (the exit
of a main IT service provider and a major personnel change among them), drills with RTO/RPO and findings into
表40, and the reminder of an overdue drill."""

from __future__ import annotations

import datetime as dt

import pytest

from handover.audit.models import Event
from handover.core import clock
from handover.core.errors import DomainError
from handover.notifications.models import Notification
from handover.registers.models import Row
from handover.risk import events, tasks
from handover.risk.models import Drill, DrillFinding, EmergencyPlan, PlanVersion, Scenario
from handover.risk.selectors.plans import coverage_matrix, drills_overdue
from handover.risk.services import plans
from tests.factories import register_form
from tests.risk.conftest import at

TODAY = dt.date(2026, 12, 10)


def _version(world, actor, scenarios=None, title="总体应急预案"):
    return plans.plan_version_record(actor=actor, engagement=world.engagement, title=title,
                                     scenarios=scenarios or [Scenario.CYBER, Scenario.TRADING_OUTAGE],
                                     procedures="一、启动条件……", effective_on=dt.date(2026, 11, 1))  # fmt: skip


def test_versions_are_appended_and_the_matrix_shows_what_the_latest_ones_cover(world, people):
    _version(world, people["tech"])
    _version(world, people["tech"], scenarios=[Scenario.CYBER, Scenario.PROVIDER_EXIT, Scenario.PERSONNEL])
    assert PlanVersion.objects.count() == 2 and EmergencyPlan.objects.count() == 1
    lines = {
        c.scenario: c
        for c in coverage_matrix(user=people["firm_it"], engagement=world.engagement, today=TODAY)
    }
    assert lines["provider_exit"].plans == ("总体应急预案 v2",) and lines["personnel"].required
    assert lines["trading_outage"].plans == ()  # dropped from version 2
    assert lines["natural"].plans == () and lines["natural"].required and lines["natural"].drill_due


def test_a_drill_records_participants_recovery_and_findings_into_table_40(world, people):
    version = _version(world, people["tech"])
    row40 = Row.objects.create(form=register_form(world.engagement, world.hq, 40), seq=1, data={})
    findings = [("备机切换超时", row40.pk), ("通讯录过期", None)]
    drill = plans.drill_record(actor=people["onsite"], plan_version=version, scenario=Scenario.TRADING_OUTAGE,
                               due_on=dt.date(2026, 12, 5), held_on=dt.date(2026, 12, 5),
                               participants="技术组；被托管技术方", target_rto_minutes=30, measured_rto_minutes=45,
                               target_rpo_minutes=0, measured_rpo_minutes=0, findings=findings)  # fmt: skip
    assert [(f.problem, f.capa_row_id) for f in drill.findings.all()] == [
        ("备机切换超时", row40.pk),
        ("通讯录过期", None),
    ]
    lines = {
        c.scenario: c for c in coverage_matrix(user=people["tech"], engagement=world.engagement, today=TODAY)
    }
    assert (
        lines["trading_outage"].last_drill == dt.date(2026, 12, 5) and not lines["trading_outage"].drill_due
    )


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"scenario": Scenario.NATURAL}, "scenario"),  # not in the plan version
        ({"held_on": dt.date(2026, 12, 5), "participants": " "}, "participants"),
        ({"measured_rto_minutes": 40}, "held_on"),
        ({"findings": [("问题", 999_999)]}, "findings"),
        ({"findings": [("", None)]}, "findings"),
    ],
)
def test_bad_drills_name_the_field_and_write_nothing(world, people, extra, field):
    version = _version(world, people["tech"])
    values = {"scenario": Scenario.CYBER, "due_on": dt.date(2026, 12, 20)}
    with pytest.raises(DomainError) as refused:
        plans.drill_record(actor=people["tech"], plan_version=version, **{**values, **extra})
    assert refused.value.field == field
    assert not Drill.objects.exists() and not DrillFinding.objects.exists()


def test_a_plan_needs_known_scenarios_and_procedures(world, people):
    for scenarios, procedures, field in (
        ([], "x", "scenarios"),
        (["war"], "x", "scenarios"),
        (["cyber"], "", "procedures"),
    ):
        with pytest.raises(DomainError) as refused:
            plans.plan_version_record(actor=people["tech"], engagement=world.engagement, title="预案",
                                      scenarios=scenarios, procedures=procedures, effective_on=TODAY)  # fmt: skip
        assert refused.value.field == field
    assert not EmergencyPlan.objects.exists()


def test_an_overdue_drill_is_listed_and_reminded_once_by_the_worker(world, people):
    version = _version(world, people["tech"])
    plans.drill_record(
        actor=people["tech"], plan_version=version, scenario=Scenario.CYBER, due_on=dt.date(2026, 11, 30)
    )
    plans.drill_record(actor=people["tech"], plan_version=version, scenario=Scenario.TRADING_OUTAGE,
                       due_on=dt.date(2026, 12, 31))  # fmt: skip
    late = drills_overdue(user=people["tech"], engagement=world.engagement, today=TODAY)
    assert [d.scenario for d in late] == ["cyber"]
    with clock.frozen(at(2026, 12, 10, 8)):
        assert tasks.worker_start(clock.now())["drills"] == 1
        assert tasks.check_now(clock.now())["drills"] == 0
    assert Notification.objects.filter(person__user=people["tech"], title__contains="2026-11-30").count() == 1
    assert Event.objects.filter(action=events.DRILL_OVERDUE).count() == 1


def test_the_yearly_drill_of_each_covered_scenario_is_planned_once_then_reminded_when_late(world, people):
    version = _version(world, people["tech"])  # covers cyber and trading_outage
    plans.drill_record(actor=people["tech"], plan_version=version, scenario=Scenario.TRADING_OUTAGE,
                       due_on=dt.date(2026, 3, 2), held_on=dt.date(2026, 3, 2), participants="技术组")  # fmt: skip
    with clock.frozen(at(2026, 12, 10, 8)):
        assert tasks.check_now(clock.now())["drills_planned"] == 1  # cyber, never drilled: due today
        assert tasks.check_now(clock.now())["drills_planned"] == 0
    planned = Drill.objects.get(held_on__isnull=True)
    assert (planned.scenario, planned.due_on) == ("cyber", dt.date(2026, 12, 10))
    with clock.frozen(at(2027, 2, 5, 8)):  # trading_outage's year ends on 2027-03-02: planned 30 days ahead
        assert tasks.check_now(clock.now())["drills_planned"] == 1
    assert Drill.objects.get(scenario="trading_outage", held_on__isnull=True).due_on == dt.date(2027, 3, 2)

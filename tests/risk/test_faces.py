"""The pages and the command line of security management."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from handover.core import clock
from handover.risk.models import Incident
from tests.risk.conftest import at
from tests.risk.scenery import incident


def test_an_incident_recorded_on_the_page_is_graded_and_shows_its_clocks(world, people, client):
    client.force_login(people["firm_it"])
    url = reverse("risk:incident_list", kwargs={"code": world.engagement.code})
    with clock.frozen(at(2026, 12, 9, 10, 10)):
        response = client.post(url, {"number": "INC-9", "title": "网上交易中断", "system_name": "网上交易系统",
                                      "system_class": "4", "trading_system": "on", "detected_at": "2026-12-09 10:00",
                                      "down_minutes": "60", "affected_pct": "12", "leaked_records": "0"})  # fmt: skip
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
    assert "重大" in page and "即时报告" in page and "2026-12-09 11:00" in page
    assert Incident.objects.get().grade == "major"


def test_a_bad_incident_on_the_page_names_the_field_and_writes_nothing(world, people, client):
    client.force_login(people["tech"])
    url = reverse("risk:incident_list", kwargs={"code": world.engagement.code})
    with clock.frozen(at(2026, 12, 9, 10, 10)):
        response = client.post(url, {"number": "INC-9", "title": "x", "system_name": "y", "system_class": "4",
                                      "detected_at": "2026-12-09 11:00", "down_minutes": "0", "affected_pct": "0",
                                      "leaked_records": "0"})  # fmt: skip
    assert response.status_code == 200 and not Incident.objects.exists()
    assert "not in the future" in response.content.decode() or "不能晚于现在" in response.content.decode()


@pytest.mark.parametrize("name", ["risk:overview", "risk:risk_list", "risk:plan_list", "risk:incident_list"])
def test_the_pages_answer_in_chinese(world, people, client, name):
    client.force_login(people["tech"])
    response = client.get(
        reverse(name, kwargs={"code": world.engagement.code}), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 200 and "安全管理" in response.content.decode()


def test_the_command_line_prints_what_is_due_and_overdue(world):
    incident(world)
    out = io.StringIO()
    with clock.frozen(at(2026, 12, 9, 12)), pytest.raises(SystemExit) as ended:
        call_command("risk", "deadlines", "--engagement", world.engagement.code, stdout=out)
    assert ended.value.code == 1
    text = out.getvalue()
    assert "OVERDUE  2026-12-09 11:00  INC-1" in text and "due      2026-12-16 17:00  INC-1" in text
    assert text.strip().endswith("3 due, 1 overdue")


def test_the_demo_has_a_risk_register_a_running_clock_and_a_drill_done_and_one_overdue(db):
    from handover.org.models import Engagement
    from handover.risk.models import ClockKind, Drill, Risk, RiskAcceptance

    call_command("demo", stdout=io.StringIO())
    engagement = Engagement.objects.get(code="demo")
    assert Risk.objects.filter(engagement=engagement).count() == 3
    assert RiskAcceptance.objects.get().approved_by.user.username == "demo-tech"
    incident = Incident.objects.get(engagement=engagement)
    immediate = incident.clocks.get(kind=ClockKind.IMMEDIATE)
    assert incident.grade == "large" and immediate.done_at is None and immediate.due_at > clock.now()
    assert Drill.objects.filter(held_on__isnull=False).count() == 1
    assert Drill.objects.filter(held_on__isnull=True, due_on__lt=clock.now().date()).count() == 1
    from handover.risk.models import Vulnerability, VulnScan

    assert VulnScan.objects.filter(engagement=engagement).count() == 2
    found = Vulnerability.objects.filter(engagement=engagement)
    assert (
        found.filter(closed_at__isnull=False, closed_by_scan__isnull=False).count() == 1
    )  # the rescan closed one
    assert found.filter(source="inspection").count() == 1 and found.count() > 4
    from handover.risk.models import Supplier

    assert set(Supplier.objects.values_list("filing", flat=True)) == {"filed", "required"}
    from handover.risk.models import Change

    change = Change.objects.get(engagement=engagement)
    assert change.state == "approved" and change.notice_required and change.notice_published_at is None
    from handover.risk.models import CapacityRecord

    assert CapacityRecord.objects.get(engagement=engagement).tested == 10000
    from handover.risk.models import ProcessingActivity

    assert ProcessingActivity.objects.filter(engagement=engagement).count() == 1
    call_command("demo", stdout=io.StringIO())  # twice: nothing added
    assert Risk.objects.count() == 3 and Incident.objects.count() == 1 and VulnScan.objects.count() == 2


def test_a_risk_and_a_plan_version_are_recorded_on_their_pages(world, people, client):
    from handover.risk.models import PlanVersion, Risk

    client.force_login(people["onsite"])
    code = world.engagement.code
    answer = client.post(reverse("risk:risk_list", kwargs={"code": code}), {
        "number": "R-1", "title": "报盘线路无天地备份", "owner": str(world.person_a.pk), "inherent_likelihood": "3",
        "inherent_impact": "5", "current_likelihood": "3", "current_impact": "5"})  # fmt: skip
    assert answer.status_code == 302 and Risk.objects.get().owner == world.person_a
    bad = client.post(reverse("risk:risk_list", kwargs={"code": code}), {
        "number": "R-2", "title": "x", "owner": str(world.person_a.pk), "inherent_likelihood": "7",
        "inherent_impact": "5", "current_likelihood": "3", "current_impact": "5"})  # fmt: skip
    assert bad.status_code == 200 and Risk.objects.count() == 1 and "1 至 5" in bad.content.decode()
    plan = client.post(reverse("risk:plan_list", kwargs={"code": code}), {
        "title": "总体应急预案", "scenarios": ["cyber", "provider_exit"], "procedures": "……",
        "effective_on": "2026-12-01"})  # fmt: skip
    assert plan.status_code == 302 and PlanVersion.objects.get().scenarios == ["cyber", "provider_exit"]


def test_acceptances_drills_notices_and_restoration_are_recorded_on_the_pages(world, people, client):
    from handover.risk.models import Drill, PartyNotice, PlanVersion, Risk, RiskAcceptance
    from handover.risk.services import plans, register

    code = world.engagement.code
    scores = {"inherent_likelihood": 3, "inherent_impact": 5, "current_likelihood": 3, "current_impact": 4}
    risk = register.risk_create(actor=people["tech"], engagement=world.engagement, number="R-1", title="报盘单线",
                                owner=world.person_a, scores=scores)  # fmt: skip
    client.force_login(people["onsite"])
    risks = reverse("risk:risk_list", kwargs={"code": code})
    until = (clock.now().date() + dt.timedelta(days=60)).isoformat()
    answer = client.post(
        risks, {"act": "accept", "risk": risk.pk, "reason": "第二条线路下月开通", "expires_on": until}
    )
    assert answer.status_code == 302 and RiskAcceptance.objects.get().approved_at is None
    client.force_login(people["tech"])  # holds accept_risk, neither asked nor owns the risk
    client.post(risks, {"act": "approve", "acceptance": RiskAcceptance.objects.get().pk})
    assert RiskAcceptance.objects.get().approved_by.user == people["tech"] and Risk.objects.count() == 1
    version = plans.plan_version_record(actor=people["tech"], engagement=world.engagement, title="总体应急预案",
                                        scenarios=["trading_outage"], procedures="……",
                                        effective_on=dt.date(2026, 1, 1))  # fmt: skip
    answer = client.post(reverse("risk:plan_list", kwargs={"code": code}), {
        "act": "drill", "plan_version": version.pk, "scenario": "trading_outage", "due_on": "2026-11-30",
        "held_on": "2026-11-28", "participants": "技术组；被托管技术方", "outcome": "切换成功",
        "report_ref": "演练报告 1"})  # fmt: skip
    assert answer.status_code == 302 and Drill.objects.get().plan_version == PlanVersion.objects.get()
    found = incident(world)
    page = reverse("risk:incident_detail", kwargs={"code": code, "incident_id": found.pk})
    with clock.frozen(at(2026, 12, 9, 11)):  # the scenery's incident was detected at 10:00 that day
        client.post(page, {"act": "notice", "party": "上海证券交易所", "channel": "电话",
                           "notified_at": "2026-12-09 10:20", "summary": "交易中断"})  # fmt: skip
    assert PartyNotice.objects.get().party == "上海证券交易所"
    bad = client.post(page, {"act": "restore", "at": "2020-01-01 00:00"})
    assert bad.status_code == 200 and Incident.objects.get().restored_at is None
    with clock.frozen(at(2026, 12, 9, 11)):
        client.post(
            page, {"act": "regrade", "down_minutes": 0, "affected_pct": "0", "leaked_records": 200000}
        )
    assert Incident.objects.get().leaked_records == 200000 and Incident.objects.get().grade == "major"

"""The REST API of security management: reads, creates, and bad bodies answered 400 naming the field."""

from __future__ import annotations

import pytest

from handover.accounts.services import api_token_issue
from handover.core import clock
from handover.risk.models import Drill, Incident, PlanVersion, Risk
from tests.risk.conftest import at

INCIDENT = {"number": "INC-7", "title": "行情中断", "system_name": "行情系统", "system_class": 4,
            "trading_system": True, "detected_at": "2026-12-09T10:00:00+08:00", "down_minutes": 60,
            "affected_pct": "10"}  # fmt: skip


def _api(client, user):
    token = api_token_issue(user=user)
    return lambda method, path, body=None: getattr(client, method)(
        f"/api/engagements/{path}", body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
    )


def test_an_incident_created_by_the_api_is_graded_and_its_reports_are_recorded(world, people, client):
    api = _api(client, people["firm_it"])
    code = world.engagement.code
    with clock.frozen(at(2026, 12, 9, 10, 30)):
        made = api("post", f"{code}/risk/incidents/", INCIDENT)
        assert made.status_code == 201, made.json()
        assert made.json()["grade"] == "major" and len(made.json()["clocks"]) == 4
        pk = made.json()["id"]
        report = api(
            "post", f"{code}/risk/incidents/{pk}/reports/", {"kind": "immediate", "text": "电话报告"}
        )
        assert report.status_code == 201 and report.json()["done_at"]
        listed = api("get", f"{code}/risk/incidents/").json()
        assert listed["rules"]["verified"] is False and listed["results"][0]["number"] == "INC-7"
        due = api("get", f"{code}/risk/deadlines/").json()
    assert due[0]["ref"] == "INC-7" and due[0]["overdue"]  # the first update, due at 10:30


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("risk/incidents/", {**INCIDENT, "system_class": 9}, "system_class"),
        ("risk/incidents/", {**INCIDENT, "detected_at": "昨天"}, "detected_at"),
        ("risk/incidents/", {**INCIDENT, "detected_at": "2026-12-09T12:00:00+08:00"}, "detected_at"),  # future
        ("risk/incidents/", [INCIDENT], "detail"),  # the project's parser refuses a list body
        ("risk/risks/", {"number": "R-1", "title": "x", "owner": 999_999, "inherent_likelihood": 1,
                         "inherent_impact": 1, "current_likelihood": 1, "current_impact": 1}, "owner"),
        ("risk/risks/", {"number": "R-1", "title": "x", "owner": 0, "inherent_likelihood": 9,
                         "inherent_impact": 1, "current_likelihood": 1, "current_impact": 1}, "inherent_likelihood"),
        ("risk/plans/", {"title": "预案", "scenarios": ["war"], "procedures": "x", "effective_on": "2026-12-01"},
         "scenarios"),
        ("risk/drills/", {"plan_version": 999_999, "scenario": "cyber", "due_on": "2026-12-01"}, "plan_version"),
    ],
)  # fmt: skip
def test_bad_bodies_answer_400_naming_the_field_and_write_nothing(world, people, client, path, body, field):
    api = _api(client, people["tech"])
    if "owner" in body and body["owner"] == 0:
        body = {**body, "owner": world.person_a.pk}
    with clock.frozen(at(2026, 12, 9, 10, 30)):
        answer = api("post", f"{world.engagement.code}/{path}", body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json(), answer.json()
    assert not (Incident.objects.exists() or Risk.objects.exists() or PlanVersion.objects.exists()
                or Drill.objects.exists())  # fmt: skip


def test_plans_drills_risks_and_compliance_are_read_and_created(world, people, client):
    api = _api(client, people["tech"])
    code = world.engagement.code
    plan = api("post", f"{code}/risk/plans/", {"title": "总体应急预案", "scenarios": ["cyber", "provider_exit"],
                                               "procedures": "……", "effective_on": "2026-11-01"})  # fmt: skip
    assert plan.status_code == 201
    body = {
        "plan_version": plan.json()["id"],
        "scenario": "provider_exit",
        "due_on": "2026-12-01",
        "held_on": "2026-12-01",
        "participants": "技术组",
        "findings": [{"problem": "退出预案缺联系人"}],
    }
    drill = api("post", f"{code}/risk/drills/", body)
    assert drill.status_code == 201 and drill.json()["findings"] == [
        {"problem": "退出预案缺联系人", "capa_row": None}
    ]
    risk = api("post", f"{code}/risk/risks/", {"number": "R-1", "title": "单一供应商", "owner": world.person_a.pk,
                                               "inherent_likelihood": 3, "inherent_impact": 4,
                                               "current_likelihood": 3, "current_impact": 4})  # fmt: skip
    assert risk.status_code == 201 and risk.json()["owner"] == world.person_a.name
    duties = {d["duty"]: d for d in api("get", f"{code}/risk/compliance/").json()}
    assert duties["M23"]["status"] == "partly" and duties["M24"]["status"] == "missing"
    assert len(api("get", f"{code}/risk/drills/").json()) == 1


def test_the_observer_reads_nothing_here(world, people, client):
    api = _api(client, people["observer"])
    assert api("get", f"{world.engagement.code}/risk/incidents/").status_code == 403


def test_an_acceptance_is_asked_by_one_and_approved_by_another_through_the_api(world, people, client):
    from handover.org.models import Person

    code = world.engagement.code
    owner = Person.objects.get(user=people["tech2"])
    tech, onsite = _api(client, people["tech"]), _api(client, people["onsite"])
    risk = tech("post", f"{code}/risk/risks/", {"number": "R-1", "title": "x", "owner": owner.pk,
                                                "inherent_likelihood": 2, "inherent_impact": 2,
                                                "current_likelihood": 2, "current_impact": 2}).json()  # fmt: skip
    with clock.frozen(at(2026, 12, 1)):
        asked = onsite("post", f"{code}/risk/acceptances/", {"risk": risk["id"], "reason": "理由",
                                                             "expires_on": "2027-03-31"})  # fmt: skip
        assert asked.status_code == 201, asked.json()
        body = {"acceptance": asked.json()["id"]}
        assert onsite("post", f"{code}/risk/acceptances/approve/", body).status_code == 403  # no accept_risk
        owner_says = _api(client, people["tech2"])("post", f"{code}/risk/acceptances/approve/", body)
        assert owner_says.status_code == 403 and "第八条" in owner_says.json()["detail"]
        approved = tech("post", f"{code}/risk/acceptances/approve/", body)
    assert approved.status_code == 200 and approved.json()["approved_at"]


def test_notices_and_restoration_through_the_api(world, people, client):
    api = _api(client, people["tech"])
    code = world.engagement.code
    with clock.frozen(at(2026, 12, 9, 10, 30)):
        pk = api("post", f"{code}/risk/incidents/", INCIDENT).json()["id"]
        told = api("post", f"{code}/risk/incidents/{pk}/notices/", {"party": "深交所", "channel": "电话",
                                                                    "notified_at": "2026-12-09T10:20:00+08:00",
                                                                    "summary": "行情中断"})  # fmt: skip
        assert told.status_code == 201
        late = api("post", f"{code}/risk/incidents/{pk}/restore/", {"at": "2026-12-09T11:00:00+08:00"})
        assert late.status_code == 400 and late.json()["field"] == "at"  # after "now"
        restored = api("post", f"{code}/risk/incidents/{pk}/restore/", {"at": "2026-12-09T10:25:00+08:00"})
    assert restored.status_code == 200 and restored.json()["state"] == "restored"
    assert len(api("get", f"{code}/risk/incidents/{pk}/notices/").json()) == 1


def test_an_incident_is_graded_again_and_linked_to_its_rows_through_the_api(world, people, client):
    from handover.registers.models import Row
    from tests.factories import register_form

    api = _api(client, people["firm_it"])
    code = world.engagement.code
    with clock.frozen(at(2026, 12, 9, 10, 30)):
        pk = api("post", f"{code}/risk/incidents/", INCIDENT).json()["id"]
        again = api("post", f"{code}/risk/incidents/{pk}/regrade/",
                    {"down_minutes": 60, "affected_pct": "10", "leaked_records": 150000})  # fmt: skip
    assert again.status_code == 200 and again.json()["leaked_records"] == 150000
    row39 = Row.objects.create(form=register_form(world.engagement, world.hq, 39), seq=1, data={})
    linked = api("post", f"{code}/risk/incidents/{pk}/links/", {"t39_row": row39.pk})
    assert linked.status_code == 200 and linked.json()["t39_row"] == row39.pk
    wrong = api("post", f"{code}/risk/incidents/{pk}/links/", {"t40_row": row39.pk})  # a 表39 row as 表40
    assert wrong.status_code == 400 and wrong.json()["field"] == "t40_row"

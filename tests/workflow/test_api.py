"""The workflow's REST API: the pages' selectors, services and permissions; every refusal a 400 naming the
field (or 403 / 404 outside the caller's role or sites); constant queries for the steps list and summary."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from handover.api.pagination import MAX_LIMIT
from handover.audit.models import Event
from handover.core import clock
from handover.org.models import Phase, Role, Site, SiteLevel
from handover.registers.models import Row
from handover.workflow import services, state, steps
from handover.workflow.deadlines import BEIJING
from handover.workflow.models import CaseState, Escalation, ExceptionCase, Feedback, StepInstance, StepNote
from tests.factories import PASSWORD
from tests.workflow.conftest import at, source_row, start_handover, t39_entry
from tests.workflow.test_pages import generate

SECRET = "root password: Hunter2Hunter2"


def client_for(user, language: str = "en") -> APIClient:
    """A client of ``user``; messages are matched in English unless ``language`` says otherwise."""
    api = APIClient()
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # web/locale.py: the cookie, not Accept-Language
    api.force_authenticate(user)
    return api


def url(world, what: str) -> str:
    return f"/api/engagements/{world.engagement.code}/workflow/{what}"


def step_of(world, site, step_id: str) -> StepInstance:
    return StepInstance.objects.get(engagement=world.engagement, site=site, step_id=step_id)


def assert_refused(response, status: int, field: str, words: str = "") -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert field in body, body
    assert words in str(body[field]) + body.get("detail", ""), body


@pytest.fixture
def handover(world, people):
    start_handover(world, people)
    return world


def test_schema_lists_the_workflow_endpoints(world, people):
    schema = (
        client_for(people["tech"]).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    for path in (
        "/api/engagements/{code}/workflow/steps/",
        "/api/engagements/{code}/workflow/steps/{instance_id}/",
        "/api/engagements/{code}/workflow/steps/{instance_id}/feedback/",
        "/api/engagements/{code}/workflow/steps/{instance_id}/confirm/",
        "/api/engagements/{code}/workflow/steps/{instance_id}/evidence/",
        "/api/engagements/{code}/workflow/sites/{site_id}/",
        "/api/engagements/{code}/workflow/cases/",
        "/api/engagements/{code}/workflow/cases/{case_id}/",
        "/api/engagements/{code}/workflow/cases/{case_id}/tick/",
        "/api/engagements/{code}/workflow/cases/{case_id}/link/",
        "/api/engagements/{code}/workflow/cases/{case_id}/close/",
        "/api/engagements/{code}/workflow/summary/",
        "/api/engagements/{code}/workflow/observer-summary/",
        "/api/engagements/{code}/workflow/phase/",
        "/api/engagements/{code}/workflow/reports/",
        "/api/engagements/{code}/register-forms/{id}/archive/",
    ):
        assert path in schema["paths"], path
    listing = schema["paths"]["/api/engagements/{code}/workflow/steps/"]["get"]
    assert {"site", "phase", "state"} <= {p["name"] for p in listing["parameters"]}


# Steps --------------------------------------------------------------------------------------------------


def test_the_steps_list_has_the_derived_state_and_only_the_callers_sites(handover, people):
    world = handover
    with clock.frozen(at(1, 21)):
        mine = client_for(people["onsite"]).get(url(world, "steps/"), {"limit": 1000}).json()
        everything = client_for(people["tech"]).get(url(world, "steps/"), {"limit": 1000}).json()
    sites = {r["site"] for r in mine["results"]}
    assert sites == {"BA", "SA", None}  # 甲营业部, its 服务部, and the engagement-level steps
    assert {"BA", "BB", "HQ", "RC", "SA"} <= {r["site"] for r in everything["results"]}
    assert everything["count"] == StepInstance.objects.count() > mine["count"]
    t01 = next(r for r in mine["results"] if r["site"] == "BA" and r["step"] == "T-01")
    assert t01["state"] == "overdue" and t01["needs_feedback"] is True and t01["done_at"] is None
    assert t01["due"].startswith("2026-12-01T") and t01["missing_registers"] == [8]  # 表8 backups
    t02 = next(r for r in mine["results"] if r["site"] == "BA" and r["step"] == "T-02")
    assert t02["waiting_for"] == ["T-01"] and "gate_reasons" in t02


def test_the_steps_list_filters_by_site_phase_and_state_and_names_a_bad_filter(handover, people):
    world, onsite = handover, client_for(people["onsite"])
    with clock.frozen(at(1, 21)):
        rows = onsite.get(url(world, "steps/"), {"site": "BA", "state": "overdue", "limit": 1000}).json()
        # A site's code stands for the site and its subtree (甲服务部 is under 甲营业部).
        assert {(r["site"], r["state"]) for r in rows["results"]} == {("BA", "overdue"), ("SA", "overdue")}
        prep = onsite.get(url(world, "steps/"), {"phase": "preparation", "limit": 1000}).json()
        assert prep["count"] and {r["phase"] for r in prep["results"]} == {"preparation"}
        assert_refused(onsite.get(url(world, "steps/"), {"state": "late"}), 400, "state")
        assert_refused(onsite.get(url(world, "steps/"), {"phase": "later"}), 400, "phase")
        # Another branch is not found, the same as one that does not exist.
        assert_refused(onsite.get(url(world, "steps/"), {"site": "BB"}), 404, "site", "BB")
        assert_refused(onsite.get(url(world, "steps/"), {"site": "NOPE"}), 404, "site")


def test_one_sites_steps_and_one_step(handover, people):
    world, onsite = handover, client_for(people["onsite"])
    with clock.frozen(at(1, 21)):
        page = onsite.get(url(world, f"sites/{world.branch_a.pk}/")).json()
        assert page["site"]["code"] == "BA" and page["steps"][0]["step"] == "H-00"
        assert all(r["site"] == "BA" for r in page["steps"])
        assert onsite.get(url(world, f"sites/{world.branch_b.pk}/")).status_code == 404
        t01 = step_of(world, world.branch_a, "T-01")
        one = onsite.get(url(world, f"steps/{t01.pk}/")).json()
        assert one["step"]["step"] == "T-01" and one["notes"] == [] and one["feedback"] == []
        assert client_for(people["onsite_b"]).get(url(world, f"steps/{t01.pk}/")).status_code == 404
        assert client_for(people["observer"]).get(url(world, f"steps/{t01.pk}/")).status_code == 403


def test_same_day_feedback_on_an_overdue_step_and_its_refusals(handover, people):
    world = handover
    t01 = step_of(world, world.branch_a, "T-01")
    feedback = url(world, f"steps/{t01.pk}/feedback/")
    with clock.frozen(at(1, 21)):
        onsite = client_for(people["onsite"])
        assert_refused(onsite.post(feedback, {"expected_at": "2026-12-02T02:00"}), 400, "reason")
        assert_refused(onsite.post(feedback, {"reason": "介质不足"}), 400, "expected_at")
        assert_refused(
            onsite.post(feedback, {"reason": "介质不足", "expected_at": "2026-12-01T20:00"}),
            400,
            "expected_at",
            "later than now",
        )
        # 第二十七条第2项 is the 现场技术岗位's: the firm's IT may not, nor another branch's post.
        body = {"reason": "介质不足，总部调拨中", "expected_at": "2026-12-02T02:00"}
        assert client_for(people["firm_it"]).post(feedback, body).status_code == 403
        assert client_for(people["onsite_b"]).post(feedback, body).status_code == 404
        assert client_for(people["tech"]).post(feedback, body).status_code == 403
        done = onsite.post(feedback, body, format="json")
        assert done.status_code == 201, done.content
        # A time without an offset is Beijing wall-clock time, as on the page.
        assert Feedback.objects.get(step=t01).expected_at == at(2, 2)
        assert done.json()["reported_by"] == "onsite_a"
        listed = onsite.get(url(world, "steps/"), {"site": "BA", "limit": 1000}).json()["results"]
        assert next(r for r in listed if r["step"] == "T-01")["needs_feedback"] is False
    assert Event.objects.filter(action="workflow.feedback.record", channel="api").count() == 1


def test_technical_groups_report_to_the_working_group_on_an_escalation(handover, people, cli):
    world = handover
    services.escalations_raise(actor=cli, engagement=world.engagement, now=at(2, 0, 5))
    escalation = Escalation.objects.filter(step__site=world.branch_a, step__step_id="T-01").get()
    tech = client_for(people["tech"])
    pending = tech.get(url(world, "reports/")).json()
    assert escalation.pk in {e["id"] for e in pending["escalations"]}
    assert client_for(people["onsite"]).get(url(world, "reports/")).status_code == 403
    assert client_for(people["onsite"]).post(url(world, "reports/"), {"text": "x"}).status_code == 403
    assert_refused(
        tech.post(url(world, "reports/"), {"escalations": [escalation.pk]}, format="json"), 400, "text"
    )
    assert_refused(
        tech.post(
            url(world, "reports/"), {"text": "日报", "escalations": [escalation.pk, 999999]}, format="json"
        ),
        400,
        "escalations",
        "999999",
    )
    report = tech.post(
        url(world, "reports/"),
        {"text": "甲营业部备份延误，已督办", "escalations": [escalation.pk]},
        format="json",
    )
    assert report.status_code == 201, report.content
    assert report.json()["escalations"] == [escalation.pk]
    escalation.refresh_from_db()
    assert escalation.wg_report_id == report.json()["id"]
    assert escalation.pk not in {e["id"] for e in tech.get(url(world, "reports/")).json()["escalations"]}


def test_confirm_a_step_without_registers_needs_evidence_and_a_note(handover, people):
    world = handover
    h00 = step_of(world, world.branch_a, "H-00")
    onsite = client_for(people["onsite"])
    confirm = url(world, f"steps/{h00.pk}/confirm/")
    with clock.frozen(at(1, 15, 10)):
        assert_refused(onsite.post(confirm, {}), 400, "note")
        assert_refused(onsite.post(confirm, {"note": "三方到场"}), 400, "file", "evidence")
        assert_refused(onsite.post(url(world, f"steps/{h00.pk}/evidence/"), {}), 400, "file")
        upload = io.BytesIO(b"%PDF-1.7 sign-in sheet")
        upload.name = "签到表.pdf"
        attached = onsite.post(url(world, f"steps/{h00.pk}/evidence/"), {"file": upload}, format="multipart")
        assert attached.status_code == 201, attached.content
        assert attached.json()["sha256"] and "stored_as" not in attached.json()
        assert_refused(onsite.post(confirm, {"note": SECRET}), 400, "note", "secret")
        assert client_for(people["onsite_b"]).post(confirm, {"note": "x"}).status_code == 404
        done = onsite.post(confirm, {"note": "三方到场，签到表已上传"}, format="json")
        assert done.status_code == 200, done.content
        assert done.json()["step"]["state"] == "done"
        assert [n["text"] for n in done.json()["notes"]] == ["三方到场，签到表已上传"]
        assert_refused(onsite.post(confirm, {"note": "again"}), 400, "step", "already")
        t01 = step_of(world, world.branch_a, "T-01")
        assert_refused(
            onsite.post(url(world, f"steps/{t01.pk}/confirm/"), {"note": "x"}), 400, "step", "signed"
        )
    assert StepNote.objects.filter(step=h00).count() == 1
    event = Event.objects.get(action="workflow.step.confirm")
    assert event.after["note"] == "三方到场，签到表已上传" and event.channel == "api"


# Exception cases ----------------------------------------------------------------------------------------


def test_an_exception_case_from_its_row_to_close_through_the_api(handover, people):
    world = handover
    onsite = client_for(people["onsite"])
    row = source_row(world.engagement, world.branch_a, 14, system="集中交易")
    body = {"path_id": "E08", "source_row": row.pk, "description": "内部网络无法上传"}
    assert client_for(people["observer"]).post(url(world, "cases/"), body).status_code == 403
    started = onsite.post(url(world, "cases/"), body, format="json")
    assert started.status_code == 201, started.content
    case = started.json()
    assert case["case"]["site"] == "BA" and case["case"]["path_id"] == "E08"
    assert [c["key"] for c in case["checklist"]] == ["courier", "report_t39"]
    assert case["checklist"][0]["record_needed"] == "courier_no" and case["close_refusal"]
    case_id = case["case"]["id"]
    tick = url(world, f"cases/{case_id}/tick/")
    assert_refused(onsite.post(tick, {"key": "courier"}), 400, "record", "waybill")
    chinese = client_for(people["onsite"], "zh-hans").post(tick, {"key": "courier"})
    assert_refused(chinese, 400, "record", "快递单号")
    assert_refused(onsite.post(tick, {"key": "nonsense"}), 400, "key")
    assert_refused(onsite.post(tick, {}), 400, "key")
    assert client_for(people["onsite_b"]).post(tick, {"key": "courier", "record": "SF1"}).status_code == 404
    ticked = client_for(people["firm_it"]).post(tick, {"key": "courier", "record": "SF1234567890"})
    assert ticked.status_code == 201, ticked.content
    assert ticked.json()["checklist"][0]["done"] and ticked.json()["checklist"][0]["record"] == "SF1234567890"
    close = url(world, f"cases/{case_id}/close/")
    assert_refused(onsite.post(close), 400, "case", "表39")
    instance = ExceptionCase.objects.get(pk=case_id)
    _form, unsigned = t39_entry(world, people, instance, sign=False)
    link = url(world, f"cases/{case_id}/link/")
    assert_refused(onsite.post(link, {}), 400, "row")
    assert onsite.post(link, {"row": unsigned.pk}).status_code == 200
    assert_refused(onsite.post(close), 400, "case", "not signed")
    _form, signed = t39_entry(world, people, instance)
    assert onsite.post(link, {"row": signed.pk}).json()["t39"]["row"] == signed.pk
    # Signed but not reported to 技术组 (scenery: a 表39 row without its 上报技术组 time).
    Row.objects.filter(pk=signed.pk).update(data={**signed.data, "reported_tg_at": ""})
    assert_refused(onsite.post(close), 400, "case", "上报技术组")
    Row.objects.filter(pk=signed.pk).update(data=signed.data)
    closed = onsite.post(close)
    assert closed.status_code == 200, closed.content
    assert closed.json()["case"]["state"] == "closed" and closed.json()["close_refusal"] == ""
    assert_refused(onsite.post(close), 400, "case", "closed")
    assert Event.objects.filter(action="workflow.case.close", channel="api").count() == 1


def test_e02_cracking_needs_the_consent_record(handover, people):
    world = handover
    onsite = client_for(people["onsite"])
    row = source_row(world.engagement, world.branch_a, 9, system="集中交易")
    started = onsite.post(
        url(world, "cases/"),
        {
            "path_id": "E02",
            "source_row": row.pk,
            "sub_type": "遗忘/联系不上",
            "description": "原超级用户密码遗忘",
        },
        format="json",
    ).json()
    tick = url(world, f"cases/{started['case']['id']}/tick/")
    assert onsite.post(tick, {"key": "report_wg"}).status_code == 201
    assert_refused(onsite.post(tick, {"key": "crack"}), 400, "key", "consent")
    assert_refused(onsite.post(tick, {"key": "wg_consent"}), 400, "record", "consent")
    consent = io.BytesIO(b"%PDF-1.7 consent")
    consent.name = "同意函.pdf"
    given = onsite.post(
        tick, {"key": "wg_consent", "record": "工作组函〔2026〕1号", "file": consent}, format="multipart"
    )
    assert given.status_code == 201, given.content
    entry = next(c for c in given.json()["checklist"] if c["key"] == "wg_consent")
    assert entry["evidence"]["name"] == "同意函.pdf"
    assert onsite.post(tick, {"key": "crack"}).status_code == 201


def test_starting_a_case_refuses_rows_and_sites_the_caller_may_not_use(handover, people):
    world = handover
    onsite = client_for(people["onsite"])
    other = source_row(world.engagement, world.branch_b, 14, system="集中交易")
    t8 = source_row(world.engagement, world.branch_a, 8, system="集中交易")
    cases = url(world, "cases/")

    def start(**body):
        return onsite.post(cases, {"path_id": "E08", "description": "x", **body}, format="json")

    assert_refused(start(source_row=other.pk), 404, "source_row")
    assert_refused(start(source_row=t8.pk), 400, "source_row", "表14")
    assert_refused(start(), 400, "source_row")
    assert_refused(start(path_id="E99"), 400, "path_id")
    assert_refused(start(source_row=t8.pk, description=""), 400, "description")
    row = source_row(world.engagement, world.branch_a, 14, system="集中交易")
    assert_refused(start(source_row=row.pk, description=SECRET), 400, "description")
    finance = world.login_with(Role.FIRM_FINANCE, site=world.branch_a, username="finance_a")
    body = {"path_id": "E08", "source_row": row.pk, "description": "x"}
    assert client_for(finance).post(cases, body).status_code == 403
    assert not ExceptionCase.objects.exists()


def test_the_case_list_filters_and_stays_within_the_callers_sites(handover, people):
    world = handover
    for site, path, register in (
        (world.branch_a, "E05", 14),
        (world.branch_a, "E08", 14),
        (world.branch_b, "E05", 8),
    ):
        services.case_open(
            actor=people["tech"],
            engagement=world.engagement,
            path_id=path,
            source_row=source_row(world.engagement, site, register, system="集中交易"),
            description="备份失败",
        )
    tech, onsite_b = client_for(people["tech"]), client_for(people["onsite_b"])
    assert tech.get(url(world, "cases/")).json()["count"] == 3
    e05 = tech.get(url(world, "cases/"), {"state": "open", "path": "E05", "site": "BA"}).json()["results"]
    assert [(c["path_id"], c["site"]) for c in e05] == [("E05", "BA")]
    assert {c["site"] for c in onsite_b.get(url(world, "cases/")).json()["results"]} == {"BB"}
    assert_refused(tech.get(url(world, "cases/"), {"path": "E99"}), 400, "path")
    assert_refused(tech.get(url(world, "cases/"), {"state": "maybe"}), 400, "state")
    a_case = ExceptionCase.objects.filter(site=world.branch_a).first()
    assert onsite_b.get(url(world, f"cases/{a_case.pk}/")).status_code == 404
    assert tech.get(url(world, f"cases/{a_case.pk}/")).json()["case"]["state"] == CaseState.OPEN


# Summary and phase --------------------------------------------------------------------------------------


def test_the_summary_has_the_overviews_figures(handover, people):
    world = handover
    services.case_open(
        actor=people["tech"],
        engagement=world.engagement,
        path_id="E05",
        source_row=source_row(world.engagement, world.branch_b, 14, system="集中交易"),
        description="备份失败",
    )
    with clock.frozen(at(1, 21)):
        summary = client_for(people["tech"]).get(url(world, "summary/")).json()
        mine = client_for(people["onsite"]).get(url(world, "summary/")).json()
        assert client_for(people["observer"]).get(url(world, "summary/")).status_code == 403
    assert summary["phase"] == "handover" and summary["sites"] == 5
    assert {p["key"] for p in summary["by_phase"]} == {"preparation", "handover"}
    assert {lv["key"] for lv in summary["by_level"]} == {"hq", "region", "branch", "service"}
    assert all(p["total"] >= p["done"] >= 0 for p in summary["by_phase"] + summary["by_level"])
    assert summary["overdue_total"] > 0 and summary["overdue"][0]["due"]
    assert summary["open_cases"] == [{"path_id": "E05", "name": "数据备份异常", "count": 1}]
    without = {s["code"] for s in summary["sites_without_onsite_post"]}
    assert without == {"RC", "SA"}  # the fixture's posts are at 甲营业部, 乙营业部 and 总部
    assert mine["sites"] == 2 and mine["open_cases"] == []  # 乙营业部's case is not 甲's
    assert mine["overdue_total"] < summary["overdue_total"]


def test_observers_get_the_counts_only_summary(handover, people):
    world = handover
    services.feedback_record(
        actor=people["onsite"],
        step=step_of(world, world.branch_a, "T-01"),
        reason="介质不足",
        expected_at=at(2, 2),
        now=at(1, 21),
    )
    with clock.frozen(at(1, 21)):
        observer = client_for(people["observer"]).get(url(world, "observer-summary/"))
        assert client_for(people["observer"]).get(url(world, "steps/")).status_code == 403
    assert observer.status_code == 200
    body = observer.json()
    assert body["sites"] == 5 and body["feedback"] == 1 and body["overdue"] > 0
    assert {p["key"] for p in body["by_phase"]} == {"preparation", "handover"}
    text = observer.content.decode()
    assert "甲营业部" not in text and "onsite_a" not in text and "介质不足" not in text


def test_the_phase_transition_is_technical_groups_with_a_reason(world, people):
    services.phase_steps_create(actor=people["tech"], engagement=world.engagement, now=at(1, 8))
    tech, phase = client_for(people["tech"]), url(world, "phase/")
    assert (
        client_for(people["onsite"]).post(phase, {"to_phase": "handover", "reason": "x"}).status_code == 403
    )
    assert_refused(tech.post(phase, {"to_phase": "handover"}), 400, "reason")
    assert_refused(tech.post(phase, {"to_phase": "preparation", "reason": "x"}), 400, "to_phase")
    assert_refused(
        tech.post(phase, {"to_phase": "stabilisation", "reason": "直接稳定"}), 400, "to_phase", "next"
    )
    with clock.frozen(dt.datetime(2026, 11, 30, 16, tzinfo=BEIJING)):  # the day before D
        assert_refused(
            tech.post(phase, {"to_phase": "handover", "reason": "提前"}), 400, "to_phase", "not before"
        )
    with clock.frozen(at(1, 15, 30)):
        moved = tech.post(phase, {"to_phase": "handover", "reason": "处置日进场"}, format="json")
        assert moved.status_code == 201, moved.content
        assert moved.json()["from_phase"] == "preparation" and moved.json()["signed_by"] == "tech"
        assert_refused(
            tech.post(phase, {"to_phase": "stabilisation", "reason": "结束"}), 400, "to_phase", "表24"
        )
    world.engagement.refresh_from_db()
    assert world.engagement.phase == Phase.HANDOVER
    assert StepInstance.objects.filter(phase=Phase.HANDOVER).exists()


# Secrets, tokens, constant queries ---------------------------------------------------------------------


def test_a_secret_is_refused_and_never_echoed(handover, people):
    world = handover
    onsite = client_for(people["onsite"])
    t01 = step_of(world, world.branch_a, "T-01")
    with clock.frozen(at(1, 21)):
        responses = [
            onsite.post(
                url(world, f"steps/{t01.pk}/feedback/"), {"reason": SECRET, "expected_at": "2026-12-02T02:00"}
            ),
            onsite.post(url(world, f"steps/{t01.pk}/note/"), {"text": SECRET}),
            client_for(people["tech"]).post(url(world, "reports/"), {"text": SECRET}),
        ]
    for response in responses:
        assert response.status_code == 400 and "Hunter2" not in response.content.decode()
    assert not Feedback.objects.exists() and not StepNote.objects.exists()
    assert not Event.objects.filter(action__startswith="workflow.feedback").exists()


def test_the_token_from_the_docs_curl_examples_works(handover, people):
    api = APIClient()
    token = api.post("/api/auth/token/", {"username": "onsite_a", "password": PASSWORD}, format="json")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    with clock.frozen(at(1, 21)):
        response = api.get(url(handover, "steps/"), {"site": "BA", "state": "overdue"})
    assert response.status_code == 200 and response.json()["count"] > 0
    assert APIClient().get(url(handover, "steps/")).status_code in (401, 403)


def add_sites(world, n: int) -> None:
    """``n`` more branches with their 交接期 steps."""
    new = Site.objects.bulk_create(
        Site(
            engagement=world.engagement,
            code=f"H{i:03d}",
            name=f"加营业部{i:03d}",
            level=SiteLevel.BRANCH,
            parent=world.region,
            path=f"{world.region.path}x{i}/",
        )
        for i in range(n)
    )
    StepInstance.objects.bulk_create(
        StepInstance(
            engagement=world.engagement, site=s, step_id=step.id, phase=step.phase, created_at=at(1, 15)
        )
        for s in new
        for step in steps.for_site_level(Phase.HANDOVER, SiteLevel.BRANCH)
    )


def count(api: APIClient, address: str, params: dict) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(address, params)
    assert response.status_code == 200, response.content
    return len(queries), response.json()


@pytest.mark.parametrize("what", ["steps/", "summary/"])
def test_the_steps_list_and_the_summary_take_a_constant_number_of_queries(world, what):
    tech = client_for(world.login_with(Role.TECH_GROUP))
    generate(world, 10)
    params = {"limit": 100000} if what == "steps/" else {}
    with clock.frozen(at(2, 1)):
        count(tech, url(world, what), params)  # the first request reads what later ones have cached
        state.forget()  # the state is kept between writes (stamp.py): count its computation, as after a write
        small, before = count(tech, url(world, what), params)
        add_sites(world, 60)
        large, after = count(tech, url(world, what), params)
    assert large == small
    if what == "steps/":
        per_site = len(steps.for_site_level(Phase.HANDOVER, SiteLevel.BRANCH))
        assert after["count"] == before["count"] + 60 * per_site
        # The page holds at most the API's maximum (api/pagination.py); it grows from before to after.
        assert len(before["results"]) == before["count"] < MAX_LIMIT
        assert len(after["results"]) == min(after["count"], MAX_LIMIT) > len(before["results"])
    else:
        assert after["sites"] == before["sites"] + 60

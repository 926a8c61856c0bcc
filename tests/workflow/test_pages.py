"""The workflow pages: the overview at a constant number of queries on a generated engagement of 300 sites,
what each role sees, and the forms driving the services."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handover.core import clock
from handover.org.models import Phase, Role, RoleAssignment, Site, SiteLevel
from handover.registers.models import Form, FormState, Row, Signature, SignatureKind
from handover.workflow import paths, state, steps
from handover.workflow.models import (
    CaseState,
    Escalation,
    ExceptionCase,
    Feedback,
    StepInstance,
)
from tests.factories import PersonFactory
from tests.workflow.conftest import at, source_row, start_handover, t39_entry


def generate(world, n_sites: int) -> None:
    """An engagement in 交接期 with ``n_sites`` more branches, every step instance of both phases, signed
    forms at every third site, feedback and escalations at every fifth, open and closed cases."""
    e = world.engagement
    e.phase = Phase.HANDOVER
    e.save(update_fields=["phase"])
    now = at(1, 15)
    new = Site.objects.bulk_create(
        Site(
            engagement=e,
            code=f"G{i:03d}",
            name=f"生成营业部{i:03d}",
            level=SiteLevel.BRANCH,
            parent=world.region,
            path="",
        )
        for i in range(n_sites)
    )
    for site in new:
        site.path = f"{world.region.path}{site.pk}/"
    Site.objects.bulk_update(new, ["path"])
    sites = list(Site.objects.filter(engagement=e))
    person = PersonFactory(engagement=e, organisation=world.org, site=world.hq)
    RoleAssignment.objects.bulk_create(
        RoleAssignment(engagement=e, person=person, role=Role.ONSITE_POST, site=s) for s in sites[::2]
    )
    instances = [
        StepInstance(engagement=e, site=None, step_id=s.id, phase=s.phase, created_at=now)
        for s in steps.STEPS
        if not s.per_site
    ]
    for site in sites:
        instances += [
            StepInstance(engagement=e, site=site, step_id=s.id, phase=s.phase, created_at=now)
            for p in (Phase.PREPARATION, Phase.HANDOVER)
            for s in steps.for_site_level(p, site.level)
        ]
    StepInstance.objects.bulk_create(instances, batch_size=1000)
    forms = Form.objects.bulk_create(
        Form(
            engagement=e,
            site=site,
            register_no=n,
            form_no=f"{site.code}-{n}",
            form_date=dt.date(2026, 12, 1),
            state=FormState.SIGNED,
        )
        for site in sites[::3]
        for n in (7, 8, 9, 10, 14)
    )
    Signature.objects.bulk_create(
        Signature(form=f, kind=SignatureKind.FOOTER, role=Role.ONSITE_POST, person=person) for f in forms
    )
    late = list(StepInstance.objects.filter(engagement=e, step_id="T-01", site__in=sites[::5]))
    Feedback.objects.bulk_create(
        Feedback(step=s, reason="介质不足", expected_at=at(2, 2), reported_by=person, reported_at=at(1, 21))
        for s in late
    )
    Escalation.objects.bulk_create(
        Escalation(step=s, raised_at=at(2, 0, 1), due_at=at(1, 20))
        for s in StepInstance.objects.filter(engagement=e, step_id="T-04", site__in=sites[::5])
    )
    ExceptionCase.objects.bulk_create(
        ExceptionCase(
            engagement=e, site=site, path_id=path, description="x", opened_at=now, state=CaseState.OPEN
        )
        for site, path in zip(sites[::7], ["E05", "E01", "E08"] * 100, strict=False)
    )


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_overview_renders_300_sites_in_a_constant_number_of_queries(
    world, client, django_assert_num_queries
):
    tech = world.login_with(Role.TECH_GROUP)
    client.force_login(tech)
    url = reverse("workflow:overview", args=[world.engagement.code])
    generate(world, 10)
    with clock.frozen(at(2, 1)):
        count_queries(client, url)  # the first request of a session reads what later ones have cached
        state.forget()  # the state is kept between writes (stamp.py): count its computation, as after a write
        small = count_queries(client, url)
        new = Site.objects.bulk_create(
            Site(
                engagement=world.engagement,
                code=f"H{i:03d}",
                name=f"加营业部{i:03d}",
                level=SiteLevel.BRANCH,
                parent=world.region,
                path=f"{world.region.path}x{i}/",
            )
            for i in range(290)
        )
        StepInstance.objects.bulk_create(
            StepInstance(
                engagement=world.engagement, site=s, step_id=step.id, phase=step.phase, created_at=at(1, 15)
            )
            for s in new
            for step in steps.for_site_level(Phase.HANDOVER, SiteLevel.BRANCH)
        )
        assert Site.objects.filter(engagement=world.engagement).count() >= 300
        per_site = len(steps.for_site_level(Phase.HANDOVER, SiteLevel.BRANCH))
        assert StepInstance.objects.count() > 300 * per_site
        with django_assert_num_queries(small):
            response = client.get(url)
    page = response.content.decode()
    assert page.count('data-testid="site-') >= 300
    assert 'class="s-overdue"' in page and 'class="s-done' in page
    assert 'data-testid="chart-trend"' in page and 'data-testid="open-cases"' in page


def stabilise(world, sites, start: dt.datetime) -> None:
    """Move the generated engagement to 稳定期 (if it is not yet) and give ``sites`` their 稳定期 steps and
    routine registers: a 表27 change past due at every fourth, a 表40 action past its date at every fifth, a
    signed 表41 of 12-09 at every third."""
    e = world.engagement
    if e.phase != Phase.STABILISATION:
        e.phase = Phase.STABILISATION
        e.save(update_fields=["phase"])  # generate() made the engagement-level steps, S-14 among them
    StepInstance.objects.bulk_create(
        StepInstance(engagement=e, site=site, step_id=s.id, phase=s.phase, created_at=start)
        for site in sites
        for s in steps.for_site_level(Phase.STABILISATION, site.level)
    )
    person = e.people.first()
    for register_no, chosen, data in (
        (27, sites[::4], {"next_due_on": "2026-12-05"}),
        (40, sites[::5], {"due_on": "2026-12-05", "closed": False}),
        (41, sites[::3], {}),
    ):
        forms = Form.objects.bulk_create(
            Form(
                engagement=e,
                site=site,
                register_no=register_no,
                form_no=f"{site.code}-{register_no}",
                form_date=dt.date(2026, 12, 9),
                state=FormState.SIGNED,
            )
            for site in chosen
        )
        Signature.objects.bulk_create(
            Signature(form=f, kind=SignatureKind.FOOTER, role=Role.ONSITE_POST, person=person) for f in forms
        )
        if data:
            Row.objects.bulk_create(Row(form=f, seq=1, data=data) for f in forms)


def test_the_overview_in_stabilisation_stays_at_a_constant_number_of_queries(
    world, client, django_assert_num_queries
):
    tech = world.login_with(Role.TECH_GROUP)
    client.force_login(tech)
    url = reverse("workflow:overview", args=[world.engagement.code])
    generate(world, 10)
    stabilise(world, list(Site.objects.filter(engagement=world.engagement)), at(8, 9))
    with clock.frozen(at(10, 9)):
        count_queries(client, url)
        state.forget()  # the state is kept between writes (stamp.py): count its computation, as after a write
        small = count_queries(client, url)
        new = Site.objects.bulk_create(
            Site(
                engagement=world.engagement,
                code=f"S{i:03d}",
                name=f"稳营业部{i:03d}",
                level=SiteLevel.BRANCH,
                parent=world.region,
                path=f"{world.region.path}s{i}/",
            )
            for i in range(290)
        )
        StepInstance.objects.bulk_create(
            StepInstance(
                engagement=world.engagement, site=s, step_id=step.id, phase=step.phase, created_at=at(1, 15)
            )
            for s in new
            for step in steps.for_site_level(Phase.HANDOVER, SiteLevel.BRANCH)
        )
        stabilise(world, new, at(8, 9))
        assert StepInstance.objects.filter(phase=Phase.STABILISATION).count() > 300 * 10
        with django_assert_num_queries(small):
            response = client.get(url)
    page = response.content.decode()
    assert page.count('data-testid="site-') >= 300 and page.count('data-testid="heat-phase"') == 2
    assert (
        'title="S-02 操作口令专人专用、定期更换 逾期' in page
        and 'title="S-09 值班、实时监控、日报 完成' in page
    )


def test_a_branch_post_sees_its_subtree_only_and_the_observer_gets_the_summary(world, client, people):
    start_handover(world, people)
    with clock.frozen(at(1, 21)):
        client.force_login(people["onsite"])
        page = client.get(reverse("workflow:overview", args=[world.engagement.code])).content.decode()
        assert "甲营业部" in page and "甲服务部" in page and "乙营业部" not in page
        client.force_login(people["observer"])
        assert client.get(reverse("workflow:overview", args=[world.engagement.code])).status_code == 403
        summary = client.get(reverse("workflow:summary", args=[world.engagement.code]))
        assert summary.status_code == 200
        body = summary.content.decode()
        assert 'data-testid="overdue-count"' in body and "甲营业部" not in body and "onsite_a" not in body


def test_the_site_page_shows_steps_with_state_deadline_and_the_feedback_button(world, client, people):
    start_handover(world, people)
    client.force_login(people["onsite"])
    url = reverse("workflow:site", args=[world.engagement.code, world.branch_a.pk])
    with clock.frozen(at(1, 21)):
        page = client.get(url).content.decode()
        assert 'data-testid="feedback-T-01"' in page and 'data-testid="state-T-01"' in page
        t01 = StepInstance.objects.get(site=world.branch_a, step_id="T-01")
        feedback_url = reverse("workflow:step_feedback", args=[world.engagement.code, t01.pk])
        refused = client.post(feedback_url, {"reason": "介质不足", "expected_at": "2026-12-01T20:00"})
        assert refused.status_code == 400 and "预计完成时间必须晚于当前时间" in refused.content.decode()
        done = client.post(
            feedback_url, {"reason": "介质不足，总部调拨中", "expected_at": "2026-12-02T02:00"}
        )
        assert done.status_code == 302
        assert Feedback.objects.get(step=t01).expected_at == at(2, 2)
        page = client.get(url).content.decode()
        assert 'data-testid="feedback-T-01"' not in page and "介质不足，总部调拨中" in page


def test_evidence_upload_and_confirmation_through_the_pages(world, client, people):
    start_handover(world, people)
    client.force_login(people["onsite"])
    h00 = StepInstance.objects.get(site=world.branch_a, step_id="H-00")
    code = world.engagement.code
    with clock.frozen(at(1, 15, 10)):
        refused = client.post(reverse("workflow:step_confirm", args=[code, h00.pk]), follow=True)
        assert "evidence" in refused.content.decode().lower() or "证据" in refused.content.decode()
        upload = io.BytesIO(b"%PDF-1.7 sign-in sheet")
        upload.name = "签到表.pdf"
        assert (
            client.post(reverse("workflow:step_evidence", args=[code, h00.pk]), {"file": upload}).status_code
            == 302
        )
        assert client.post(reverse("workflow:step_confirm", args=[code, h00.pk])).status_code == 302
        page = client.get(reverse("workflow:step", args=[code, h00.pk])).content.decode()
    assert 'data-testid="state-H-00"' in page and "s-done" in page
    evidence = h00.evidence.get()
    download = client.get(reverse("workflow:evidence", args=[code, evidence.pk]))
    assert b"".join(download.streaming_content) == b"%PDF-1.7 sign-in sheet"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")
    client.force_login(people["onsite_b"])
    assert client.get(reverse("workflow:evidence", args=[code, evidence.pk])).status_code == 404
    from pathlib import Path

    from django.conf import settings

    (Path(settings.DATA_DIR) / evidence.stored_as).write_bytes(b"changed behind our back")
    client.force_login(people["onsite"])
    refused = client.get(reverse("workflow:evidence", args=[code, evidence.pk]))
    assert refused.status_code == 400 and "SHA-256" in refused.content.decode()


def test_an_exception_case_through_the_pages_from_start_to_close(world, client, people):
    start_handover(world, people)
    code = world.engagement.code
    row = source_row(world.engagement, world.branch_a, 14, system="集中交易")
    client.force_login(people["onsite"])
    response = client.post(
        reverse("workflow:case_open", args=[code, world.branch_a.pk]),
        {"path_id": "E08", "source_row": row.pk, "description": "内部网络无法上传"},
    )
    assert response.status_code == 302
    case = ExceptionCase.objects.get()
    tick = reverse("workflow:case_tick", args=[code, case.pk])
    refused = client.post(tick, {"key": "courier", "record": ""})
    assert refused.status_code == 400 and "快递单号" in refused.content.decode()
    assert client.post(tick, {"key": "courier", "record": "SF1234567890"}).status_code == 302
    page = client.get(reverse("workflow:case", args=[code, case.pk])).content.decode()
    assert 'data-testid="close-refusal"' in page and "SF1234567890" in page
    _form, t39 = t39_entry(world, people, case)
    assert (
        client.post(reverse("workflow:case_link", args=[code, case.pk]), {"row": t39.pk}).status_code == 302
    )
    assert client.post(reverse("workflow:case_close", args=[code, case.pk])).status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    assert paths.CLOSE in set(case.items.values_list("key", flat=True))


def test_the_case_page_reads_the_source_row_through_the_scoped_selector(world, client, people):
    # Review §4.4: the page fetched the row by id in the engagement only, so another site's row was "no role"
    # while a missing one was "not found"; now both are "not found" on the field, as in the API.
    start_handover(world, people)
    code = world.engagement.code
    other = source_row(world.engagement, world.branch_b, 14, system="集中交易")
    client.force_login(people["onsite"])
    open_case = reverse("workflow:case_open", args=[code, world.branch_a.pk])
    answers = [
        client.post(open_case, {"path_id": "E08", "source_row": row_id, "description": "x"})
        for row_id in (other.pk, other.pk + 1000)
    ]
    said = []
    for row_id, answer in zip((other.pk, other.pk + 1000), answers, strict=True):
        assert answer.status_code == 400
        errors = answer.context["form"].errors
        assert "source_row" in errors, errors
        (message,) = errors["source_row"]
        said.append(message.replace(str(row_id), "N"))
    assert said[0] == said[1]
    assert not ExceptionCase.objects.exists()


def test_the_phase_and_deadline_forms_are_technical_groups(world, client, people):
    services_steps = reverse("workflow:phase", args=[world.engagement.code])
    client.force_login(people["onsite"])
    assert client.get(services_steps).status_code == 403
    client.force_login(people["tech"])
    # UX review M6: the page says where the engagement is and offers only the next phase, preselected.
    page = client.get(services_steps).content.decode()
    assert 'data-testid="phase-notes"' in page and str(world.engagement.disposal_date) in page
    assert '<option value="handover" selected>' in page and 'value="stabilisation"' not in page
    with clock.frozen(at(1, 9)):
        response = client.post(services_steps, {"to_phase": Phase.STABILISATION, "reason": "跳过"})
        assert response.status_code == 400
        assert (
            client.post(services_steps, {"to_phase": Phase.HANDOVER, "reason": "处置日进场"}).status_code
            == 302
        )
    world.engagement.refresh_from_db()
    assert (
        world.engagement.phase == Phase.HANDOVER and StepInstance.objects.filter(site=world.branch_a).exists()
    )
    deadline = reverse("workflow:deadline", args=[world.engagement.code])
    assert client.post(deadline, {"step_id": "T-01", "day": 0, "time": "21:00"}).status_code == 302
    bad = client.post(deadline, {"step_id": "T-01", "day": 0, "time": "9pm"})
    assert bad.status_code == 400
    table = client.get(deadline).content.decode()
    assert "<b>2026-12-01 21:00</b>" in table and "2026-12-01 20:00" in table


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_overview_speaks_both_languages(world, client, people, language):
    start_handover(world, people)
    client.force_login(people["tech"])
    client.cookies["django_language"] = language
    page = client.get(
        reverse("workflow:overview", args=[world.engagement.code]), HTTP_ACCEPT_LANGUAGE=language
    )
    text = page.content.decode()
    assert ("工作流程" in text) if language == "zh-hans" else ("Workflow" in text)


def test_a_case_starts_from_a_row_listed_on_its_step_page(world, client, people):
    start_handover(world, people)
    row = source_row(world.engagement, world.branch_a, 14, system="集中交易")
    t04 = StepInstance.objects.get(site=world.branch_a, step_id="T-04")
    client.force_login(people["onsite"])
    page = client.get(reverse("workflow:step", args=[world.engagement.code, t04.pk])).content.decode()
    start = f"/w/{world.engagement.code}/sites/{world.branch_a.pk}/exceptions/new/?row={row.pk}&amp;path=E05"
    assert start in page and f"?row={row.pk}&amp;path=E08" in page
    form = client.get(start.replace("&amp;", "&")).content.decode()
    assert f'value="{row.pk}"' in form and '<option value="E05" selected>' in form


def test_the_step_page_names_systems_links_forms_and_offers_no_second_path_for_a_row(world, client, people):
    """UX review M8: rows named by their system, not its id; the form number a link; a row whose case is open
    links the case instead of offering to start another; a row that already links a 表39 entry says so."""
    from handover.registers.models import InformationSystem
    from handover.workflow import services

    start_handover(world, people)
    system = InformationSystem.objects.create(
        engagement=world.engagement, site=world.branch_a, name="柜台系统"
    )
    failed = source_row(world.engagement, world.branch_a, 14, system_id=system.pk)
    linked = Row.objects.create(form=failed.form, seq=2, data={"system_id": system.pk, "exception_refs": [1]})
    plain = Row.objects.create(form=failed.form, seq=3, data={"system_id": system.pk})
    case = services.case_open(
        actor=people["onsite"], engagement=world.engagement, path_id="E05", source_row=failed,
        description="备份失败",
    )  # fmt: skip
    t04 = StepInstance.objects.get(site=world.branch_a, step_id="T-04")
    client.force_login(people["onsite"])
    page = client.get(reverse("workflow:step", args=[world.engagement.code, t04.pk])).content.decode()
    assert "柜台系统" in page and f"/register-forms/{failed.form.pk}/" in page
    assert f"/exceptions/{case.pk}/" in page and 'data-testid="row-linked"' in page
    assert page.count('data-testid="start-E05"') == 1 and f"row={plain.pk}&amp;" in page
    assert f"row={failed.pk}&amp;" not in page and f"row={linked.pk}&amp;" not in page


def test_step_descriptions_and_heat_map_tips_are_chinese_on_a_chinese_page(world, client, people):
    """UX review M1: the step's description and the heat map's tooltips in the page's language, with no internal
    state codes (in_progress, overdue …)."""
    start_handover(world, people)
    t01 = StepInstance.objects.get(site=world.branch_a, step_id="T-01")
    client.force_login(people["tech"])
    page = client.get(reverse("workflow:step", args=[world.engagement.code, t01.pk])).content.decode()
    assert "系统备份并封存介质" in page and "Back up the systems" not in page
    overview = client.get(reverse("workflow:overview", args=[world.engagement.code])).content.decode()
    tips = re.findall(r'title="([^"]*)"', overview)
    assert any("T-01 系统备份" in tip for tip in tips)
    codes = ("in_progress", "done_late", "overdue", "blocked", "pending")
    assert not [tip for tip in tips if any(f" {code}" in tip for code in codes)]

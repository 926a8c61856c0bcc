"""The 注意事项 N-01, N-02, N-05 derived from a site's other steps, and the 稳定期 steps S-01…S-14 derived from
their registers and the routine's lapses, each with a case where the derivation must fail; the clock is set
by every call (state.compute takes ``now``)."""

from __future__ import annotations

import datetime as dt
import importlib
import io

import pytest
from django.apps import apps

from handover.core.errors import DomainError
from handover.org.models import Phase, SiteLevel
from handover.registers.models import Form, FormState, Row
from handover.workflow import gates, selectors, services, state, steps
from handover.workflow.deadlines import BEIJING
from handover.workflow.models import StepInstance
from tests.workflow.conftest import approve_t24, at, security_assessed, signed_form, start_handover


def views(world, now):
    return state.compute(engagement=world.engagement, now=now)


def instance(world, site, step_id):
    return StepInstance.objects.get(engagement=world.engagement, site=site, step_id=step_id)


def confirm(world, people, site, step_id, when, actor=None):
    step = instance(world, site, step_id)
    actor = actor or people["tech"]
    services.step_evidence_add(
        actor=actor, step=step, name=f"{step_id}.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    services.step_confirm(actor=actor, step=step, now=when)


def finish_handover_at(world, people, site, when, late: dict[int, dt.datetime] | None = None):
    """Every 交接期 step of ``site`` done at ``when`` (registers in ``late`` signed then instead), with H-00
    confirmed everywhere and the security assessment T-09 (its report reviewed, 表40 at HQ signed), so that T-10
    can be done."""
    e = world.engagement
    for other in (world.hq, world.region, world.branch_a, world.branch_b, world.service_a):
        confirm(world, people, other, "H-00", when)
    confirm(world, people, site, "M-01", when)
    signed_form(e, world.hq, 40, when)
    security_assessed(world, when)
    have = {s.id for s in steps.for_site_level(steps.HANDOVER, site.level)}
    numbers = sorted({n for s in steps.STEPS if s.id in have for n in s.outputs})
    for number in numbers:
        signed_form(e, site, number, (late or {}).get(number, when))


def to_stabilisation(world, people, now=None):
    """Through 交接期 to 稳定期 on D+7, as 技术组 does it once 表24 is signed."""
    start_handover(world, people)
    t24 = Form.objects.create(
        engagement=world.engagement,
        site=world.hq,
        register_no=24,
        form_no="HQ-T24",
        form_date=dt.date(2026, 12, 8),
        state=FormState.SIGNED,
    )
    approve_t24(t24)
    services.phase_transition(
        actor=people["tech"],
        engagement=world.engagement,
        to_phase=Phase.STABILISATION,
        reason="表24已批准",
        now=now or at(8, 9),
    )


def signed_rows(world, site, register_no, signed_at, *rows):
    form = signed_form(world.engagement, site, register_no, signed_at)
    for seq, data in enumerate(rows, start=1):
        Row.objects.create(form=form, seq=seq, data=data)
    return form


# N-01 ---------------------------------------------------------------------------------------------------


def test_n01_is_overdue_while_a_site_step_is_and_names_it(world, people):
    start_handover(world, people)
    a = world.branch_a.pk
    assert views(world, at(1, 15))[(a, "N-01")].state == state.PENDING
    late = views(world, at(1, 16, 30))[(a, "N-01")]
    assert late.state == state.OVERDUE
    assert "H-00" in late.reasons[0] and "M-01" in late.reasons[0] and "T-01" not in late.reasons[0]
    assert late.due == views(world, at(1, 16, 30))[(a, "T-10")].due  # the latest of the site's steps
    listed = selectors.overview(user=people["tech"], engagement=world.engagement, now=at(1, 16, 30)).overdue
    at_sites = {v.step.id for site, v in listed if site is not None}
    assert at_sites == {"H-00", "M-01"}  # N-01 is not listed twice over


def test_n01_is_done_when_every_step_is_and_flags_one_done_late(world, people):
    start_handover(world, people)
    a = world.branch_a
    finish_handover_at(world, people, a, at(1, 15, 25), late={22: at(3, 9)})  # T-08 due D+2 08:00
    view = views(world, at(3, 10))[(a.pk, "N-01")]
    assert view.state == state.DONE_LATE and view.done_at == at(3, 9)
    assert view.reasons == ("Done late: T-08",)
    # The other branch is untouched: its N-01 is overdue, not done.
    assert views(world, at(3, 10))[(world.branch_b.pk, "N-01")].state == state.OVERDUE


def test_n01_on_time(world, people):
    start_handover(world, people)
    finish_handover_at(world, people, world.service_a, at(1, 15, 25))
    view = views(world, at(2, 10))[(world.service_a.pk, "N-01")]
    assert view.state == state.DONE and view.reasons == ()


# N-02 ---------------------------------------------------------------------------------------------------


def _late_steps(world, site, now):
    return [
        v
        for v in views(world, now).values()
        if v.site_id == site.pk and v.state == state.OVERDUE and v.needs_feedback
    ]


def test_n02_with_nothing_late_is_done_and_says_so(world, people):
    start_handover(world, people)
    view = views(world, at(1, 10))[(world.branch_a.pk, "N-02")]
    assert view.state == state.DONE and "Nothing is late" in view.reasons[0]


def test_n02_is_owed_by_the_end_of_the_day_and_overdue_after_it(world, people):
    start_handover(world, people)
    a = world.branch_a.pk
    today = views(world, at(1, 21))[(a, "N-02")]
    assert today.state == state.IN_PROGRESS and "T-01" in today.reasons[0]
    assert today.due == dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=BEIJING)
    assert views(world, at(2, 0, 5))[(a, "N-02")].state == state.OVERDUE


def test_n02_is_done_once_every_late_step_has_feedback_and_escalations_are_reported(world, people, cli):
    start_handover(world, people)
    a, b = world.branch_a, world.branch_b
    now = at(2, 0, 10)
    for view in _late_steps(world, a, now):
        step = StepInstance.objects.get(pk=view.instance_id)
        services.feedback_record(
            actor=people["onsite"], step=step, reason="人员未到", expected_at=at(2, 9), now=now
        )
    done = views(world, at(2, 0, 20))[(a.pk, "N-02")]
    assert done.state == state.DONE and done.reasons == ("Every late step is reported.",)
    # Branch B stayed silent: escalated at midnight; its feedback alone does not finish N-02.
    raised = services.escalations_raise(actor=cli, engagement=world.engagement, now=at(2, 0, 30))
    for view in _late_steps(world, b, at(2, 0, 40)):
        step = StepInstance.objects.get(pk=view.instance_id)
        services.feedback_record(
            actor=people["onsite_b"], step=step, reason="网络中断", expected_at=at(2, 9), now=at(2, 0, 40)
        )
    waiting = views(world, at(2, 0, 50))[(b.pk, "N-02")]
    assert waiting.state == state.IN_PROGRESS and "working group" in waiting.reasons[0]
    services.wg_report_record(
        actor=people["tech"], engagement=world.engagement, text="乙营业部延误已报", escalations=raised
    )
    assert views(world, at(2, 0, 55))[(b.pk, "N-02")].state == state.DONE


def test_derived_steps_are_not_confirmed_reported_on_or_given_a_deadline(world, people):
    start_handover(world, people)
    n01 = instance(world, world.branch_a, "N-01")
    services.step_evidence_add(
        actor=people["onsite"], step=n01, name="x.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    with pytest.raises(DomainError, match="not confirmed by hand"):
        services.step_confirm(actor=people["onsite"], step=n01, now=at(1, 16))
    with pytest.raises(DomainError, match="late step itself"):
        services.feedback_record(
            actor=people["onsite"], step=n01, reason="x", expected_at=at(2, 9), now=at(1, 17)
        )
    with pytest.raises(DomainError, match="no deadline of its own"):
        services.deadline_set(
            actor=people["tech"], engagement=world.engagement, step_id="N-05", day=1, time="10:00"
        )
    assert not any(v.needs_feedback for v in views(world, at(3, 9)).values() if v.step.derived)


# N-05 ---------------------------------------------------------------------------------------------------


def test_n05_is_done_once_the_sites_backups_are_signed(world, people):
    start_handover(world, people)
    a = world.branch_a
    signed_form(world.engagement, a, 8, at(1, 19))
    assert views(world, at(1, 19, 30))[(a.pk, "N-05")].state == state.IN_PROGRESS  # 表14 still missing
    signed_form(world.engagement, a, 14, at(1, 21))
    view = views(world, at(1, 21, 30))[(a.pk, "N-05")]
    assert view.state == state.DONE and view.done_at == at(1, 21)


def test_n05_is_overdue_without_backups_after_their_deadlines(world, people):
    start_handover(world, people)
    view = views(world, at(1, 22, 30))[(world.branch_b.pk, "N-05")]
    assert view.state == state.OVERDUE and view.reasons == ("Backups not signed: 表8、表14",)


def test_n05_is_blocked_while_a_register_gate_blocks_a_step_of_the_site(world, people, monkeypatch):
    start_handover(world, people)
    a = world.branch_a
    signed_form(world.engagement, a, 8, at(1, 19))
    signed_form(world.engagement, a, 14, at(1, 19))

    def gate(engagement, pairs):
        return {(a.pk, "T-03"): ["表11 第2行缺少权限核查前备份（表8）"]}

    monkeypatch.setattr(gates, "RULES", [gate])
    view = views(world, at(1, 20))[(a.pk, "N-05")]
    assert view.state == state.BLOCKED and view.reasons == ("T-03: 表11 第2行缺少权限核查前备份（表8）",)
    assert views(world, at(1, 20))[(world.branch_b.pk, "N-05")].state == state.PENDING


# 稳定期 -------------------------------------------------------------------------------------------------


def test_stabilisation_gives_each_site_the_s_steps_of_its_level(world, people):
    to_stabilisation(world, people)

    def mine(site):
        rows = StepInstance.objects.filter(site=site, phase=Phase.STABILISATION)
        return set(rows.values_list("step_id", flat=True))

    assert mine(world.hq) == {f"S-{n:02d}" for n in range(1, 14)}
    assert mine(world.service_a) == {"S-01", "S-02", "S-03", "S-09", "S-11"}
    assert StepInstance.objects.filter(site=None, step_id="S-14").count() == 1
    assert services.phase_steps_create(actor=people["tech"], engagement=world.engagement) == 0


def test_s02_is_in_order_with_signed_changes_and_overdue_once_a_change_is_past_due(world, people):
    to_stabilisation(world, people)
    a = world.branch_a.pk
    assert views(world, at(10, 9))[(a, "S-02")].state == state.PENDING  # nothing filed, due D+30
    form = signed_rows(world, world.branch_a, 27, at(9, 10), {"next_due_on": "2026-12-12"})
    assert views(world, at(10, 9))[(a, "S-02")].state == state.DONE  # a warning is not a lapse
    lapsed = views(world, at(13, 9))[(a, "S-02")]
    assert lapsed.state == state.OVERDUE and lapsed.done_at is None
    assert lapsed.reasons == (f"Password change due (表27): {form.form_no} #1, 2026-12-12",)
    assert not lapsed.needs_feedback  # 稳定期 lapses go to the morning reminders, not same-day feedback


def test_s03_is_overdue_when_the_last_periodic_review_is_older_than_the_period(world, people):
    to_stabilisation(world, people)
    a, b = world.branch_a, world.branch_b
    signed_rows(world, a, 28, at(9, 10), {"change_type": "定期检查调整", "done_at": "2026-08-01T10:00"})
    signed_rows(world, b, 28, at(9, 10), {"change_type": "定期检查调整", "done_at": "2026-12-05T10:00"})
    now = at(10, 9)
    assert views(world, now)[(a.pk, "S-03")].state == state.OVERDUE
    assert "表28" in views(world, now)[(a.pk, "S-03")].reasons[0]
    assert views(world, now)[(b.pk, "S-03")].state == state.DONE


def test_s01_needs_a_risk_check_on_record_and_is_overdue_when_a_corrective_action_is_past_its_date(
    world, people
):
    """C29, 第三十条: nothing filed is not a risk check; the check's report attached (nothing found) is."""
    to_stabilisation(world, people)
    a, b = world.branch_a, world.branch_b
    signed_rows(world, b, 40, at(9, 10), {"due_on": "2026-12-05", "closed": False})
    now = at(10, 9)
    unchecked = views(world, now)[(a.pk, "S-01")]
    assert unchecked.state != state.DONE and any("风险检查" in r for r in unchecked.gate_reasons)
    s01 = StepInstance.objects.get(site=a, step_id="S-01")
    services.step_evidence_add(
        actor=people["onsite"], step=s01, name="风险检查报告.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    assert views(world, now)[(a.pk, "S-01")].state == state.DONE
    late = views(world, now)[(b.pk, "S-01")]
    assert late.state == state.OVERDUE and "表40" in late.reasons[0]


def test_s11_needs_its_ledgers_and_is_overdue_when_a_contract_ends(world, people):
    to_stabilisation(world, people)
    a = world.branch_a
    now = at(10, 9)
    assert views(world, now)[(a.pk, "S-11")].missing_registers == (32, 38)
    signed_form(world.engagement, a, 32, at(9, 10))
    signed_form(world.engagement, a, 38, at(9, 10))
    assert views(world, now)[(a.pk, "S-11")].state == state.DONE
    signed_rows(world, a, 35, at(9, 11), {"end": "2026-12-31", "performance": "履行中"})
    ending = views(world, now)[(a.pk, "S-11")]
    assert ending.state == state.OVERDUE and "表35" in ending.reasons[0]


def test_s09_is_overdue_when_the_last_trading_days_report_is_missing_or_unsigned(world, people):
    to_stabilisation(world, people)  # on Tuesday 12-08
    a, b = world.branch_a, world.branch_b
    # Wednesday 12-09 is the first whole trading day of 稳定期: nothing is owed for it before Thursday.
    assert not views(world, at(9, 20))[(a.pk, "S-09")].lapsed
    report = signed_form(world.engagement, a, 41, at(9, 18))
    Form.objects.filter(pk=report.pk).update(form_date=dt.date(2026, 12, 9))
    draft = Form.objects.create(
        engagement=world.engagement, site=b, register_no=41, form_no="BB-41", form_date=dt.date(2026, 12, 9)
    )
    now = at(10, 9)
    assert views(world, now)[(a.pk, "S-09")].state == state.DONE
    missing = views(world, now)[(b.pk, "S-09")]
    assert missing.state == state.OVERDUE and missing.reasons == (
        "表41 of 2026-12-09 is missing or not signed",
    )
    Form.objects.filter(pk=draft.pk).update(state=FormState.SIGNED)
    assert not views(world, now)[(b.pk, "S-09")].lapsed
    # Monday 12-14: the last trading day is Friday 12-11, whose 表41 neither branch has.
    assert views(world, at(14, 9))[(a.pk, "S-09")].state == state.OVERDUE


def test_s14_the_risk_assessment_report_is_confirmed_with_evidence_by_the_technical_group(world, people):
    to_stabilisation(world, people)
    s14 = StepInstance.objects.get(site=None, step_id="S-14")
    with pytest.raises(DomainError, match="evidence"):
        services.step_confirm(actor=people["tech"], step=s14, now=at(20, 9))
    services.step_evidence_add(
        actor=people["tech"], step=s14, name="整体风险评估报告.pdf", stream=io.BytesIO(b"%PDF-1.7")
    )
    assert views(world, at(20, 9))[(None, "S-14")].state == state.PENDING
    services.step_confirm(actor=people["tech"], step=s14, now=at(20, 9))
    assert views(world, at(20, 10))[(None, "S-14")].state == state.DONE
    assert views(world, at(20, 10))[(None, "S-14")].due == dt.datetime(2027, 1, 5, 17, 0, tzinfo=BEIJING)


def test_the_heat_map_shows_the_stabilisation_columns_only_in_stabilisation(world, people, client):
    handover, groups = selectors.heatmap_columns(Phase.HANDOVER)
    assert not any(s.phase == steps.STABILISATION for s in handover) and len(groups) == 1
    both, groups = selectors.heatmap_columns(Phase.STABILISATION)
    assert [span for _label, span in groups] == [len(handover), len(both) - len(handover)]
    assert {"N-01", "N-02", "N-05", "S-01", "S-13"} <= {s.id for s in both} and "S-14" not in {
        s.id for s in both
    }
    to_stabilisation(world, people)
    client.force_login(people["tech"])
    page = client.get(f"/w/{world.engagement.code}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert page.count('data-testid="heat-phase"') == 2 and "稳定期" in page and ">S-09<" in page
    site = client.get(f"/w/{world.engagement.code}/sites/{world.branch_a.pk}/").content.decode()
    assert 'data-testid="row-S-02"' in site and 'data-testid="row-N-02"' in site
    assert 'data-testid="reason-N-01"' in site
    n01 = instance(world, world.branch_a, "N-01")
    step_page = client.get(f"/w/{world.engagement.code}/steps/{n01.pk}/").content.decode()
    assert 'data-testid="reasons"' in step_page and 'data-testid="confirm"' not in step_page
    s14 = StepInstance.objects.get(site=None, step_id="S-14")
    assert (
        'data-testid="confirm"' in client.get(f"/w/{world.engagement.code}/steps/{s14.pk}/").content.decode()
    )


def test_engagements_already_under_way_get_the_new_steps_from_the_migration(world, people):
    to_stabilisation(world, people)
    new = ("N-01", "N-02", "N-05", *(f"S-{n:02d}" for n in range(1, 15)))
    expected = StepInstance.objects.filter(step_id__in=new).count()
    StepInstance.objects.filter(step_id__in=new).delete()
    migration = importlib.import_module("handover.workflow.migrations.0002_notes_and_stabilisation_steps")
    migration.add_steps(apps, None)
    assert StepInstance.objects.filter(step_id__in=new).count() == expected
    assert StepInstance.objects.filter(site=world.service_a, step_id="S-10").count() == 0
    migration.add_steps(apps, None)
    assert StepInstance.objects.filter(step_id__in=new).count() == expected


def test_sites_of_each_level_get_only_the_s_steps_of_their_level():
    assert not {s.id for s in steps.for_site_level(steps.STABILISATION, SiteLevel.SERVICE)} & {"S-04", "S-10"}
    assert all(s.deadline is None for s in steps.STEPS if s.derived)
    assert all(set(s.optional) <= set(s.outputs) for s in steps.STEPS)


def test_the_step_table_of_the_documentation_lists_every_step_with_its_deadline():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "workflow.md").read_text(encoding="utf-8")
    for step in steps.STEPS:
        due = "—" if step.deadline is None else f"D{step.deadline.day:+d} {step.deadline.time}"
        line = next((ln for ln in doc.splitlines() if ln.startswith(f"| {step.id} | {step.zh} |")), "")
        assert due in line, f"docs/workflow.md: the row of {step.id} is missing or has another deadline"


def test_s12_checks_the_custody_preparation_and_the_go_live_not_any_form(world, people):
    """C30, 第三十条 「做好客户保证金第三方存管的系统准备和上线组织」: S-12 at head office needs a signed 表36 row of
    第三方存管准备 and a signed 表30 go-live of a 第三方存管/银证转账 system; any other 表30/表36 does not do."""
    from handover.registers.models import InformationSystem

    to_stabilisation(world, people)
    hq = world.hq
    now = at(10, 9)
    signed_rows(world, hq, 36, at(9, 10), {"purpose": "扩容", "is_new_system": False})
    signed_rows(world, hq, 30, at(9, 10), {"kind": "日常巡检"})
    blocked = views(world, now)[(hq.pk, "S-12")]
    assert blocked.state != state.DONE and len(blocked.gate_reasons) == 2
    custody = InformationSystem.objects.create(
        engagement=world.engagement, site=hq, name="银证转账系统", category="第三方存管/银证转账"
    )
    signed_rows(world, hq, 36, at(9, 11), {"purpose": "第三方存管准备", "is_new_system": False})
    signed_rows(world, hq, 30, at(9, 11), {"kind": "升级/上线", "system_id": custody.pk})
    assert views(world, now)[(hq.pk, "S-12")].gate_reasons == ()

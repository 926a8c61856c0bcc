"""Step instances, derived state, ordering, deadlines, same-day feedback, escalation and phase transitions,
with the workflow clock set by each test."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from handover.audit.models import Event
from handover.core import clock, schedule
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Form, FormState
from handover.workflow import services, state, steps, tasks
from handover.workflow.models import Escalation, Evidence, PhaseTransition, StepInstance
from tests.workflow.conftest import approve_t24, at, security_assessed, signed_form, start_handover


def views(world, now):
    return state.compute(engagement=world.engagement, now=now)


def step(world, site, step_id):
    return StepInstance.objects.get(engagement=world.engagement, site=site, step_id=step_id)


def test_a_phase_gives_each_site_the_steps_of_its_level_and_engagement_steps_once(world, people):
    start_handover(world, people)
    mine = lambda site: set(StepInstance.objects.filter(site=site).values_list("step_id", flat=True))  # noqa: E731
    assert {"M-02", "M-04", "T-05"} <= mine(world.hq)
    assert "T-01" in mine(world.service_a) and not {"M-02", "T-05", "T-09"} & mine(world.service_a)
    engagement_level = set(StepInstance.objects.filter(site=None).values_list("step_id", flat=True))
    assert {"P-01", "T-09", "N-03", "N-04"} <= engagement_level
    count = StepInstance.objects.count()
    assert services.phase_steps_create(actor=people["tech"], engagement=world.engagement) == 0
    assert StepInstance.objects.count() == count


def test_a_step_is_done_when_its_output_registers_are_signed_and_only_then(world, people):
    start_handover(world, people)
    e, a = world.engagement, world.branch_a
    signed_form(e, a, 7, at(1, 17))  # M-05
    key = (a.pk, "T-01")
    assert views(world, at(1, 18))[key].state == state.BLOCKED  # H-00 has no evidence yet
    _confirm_h00(world, people)
    assert views(world, at(1, 18))[key].state == state.PENDING
    draft = Form.objects.create(
        engagement=e, site=a, register_no=8, form_no="BA-T08-x", form_date=dt.date(2026, 12, 1)
    )
    assert views(world, at(1, 18))[key].state == state.IN_PROGRESS
    Form.objects.filter(pk=draft.pk).update(is_current=False)
    signed_form(e, a, 8, at(1, 19, 30))
    view = views(world, at(1, 19, 45))[key]
    assert view.state == state.DONE and view.done_at == at(1, 19, 30)
    # A second current form of 表8 still open: the register is not complete at the site.
    Form.objects.create(
        engagement=e, site=a, register_no=8, form_no="BA-T08-y", form_date=dt.date(2026, 12, 1)
    )
    assert views(world, at(1, 19, 45))[key].state == state.IN_PROGRESS


def _confirm_h00(world, people, site=None, actor=None):
    site, actor = site or world.branch_a, actor or people["onsite"]
    h00 = step(world, site, "H-00")
    services.step_evidence_add(
        actor=actor, step=h00, name="进场签到.jpg", stream=io.BytesIO(b"\xff\xd8\xffphoto")
    )
    services.step_confirm(actor=actor, step=h00, now=at(1, 15, 40))


def test_ordering_t01_before_t02_and_t03_and_t10_after_all(world, people):
    start_handover(world, people)
    e, a = world.engagement, world.branch_a
    _confirm_h00(world, people)
    signed_form(e, a, 7, at(1, 17))
    for number in (9, 10):  # T-02's registers signed before T-01's: out of order
        signed_form(e, a, number, at(1, 19))
    now = at(1, 19, 30)
    assert views(world, now)[(a.pk, "T-02")].state == state.BLOCKED
    assert views(world, now)[(a.pk, "T-02")].waiting_for == ("T-01",)
    signed_form(e, a, 8, at(1, 19, 45))
    assert views(world, at(1, 20))[(a.pk, "T-02")].state == state.DONE
    for number in (11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23):
        signed_form(e, a, number, at(2, 1))
    t10 = views(world, at(2, 2))[(a.pk, "T-10")]
    # T-09, the security assessment, is the engagement's: T-10 waits for it at every site.
    assert t10.state == state.BLOCKED and t10.waiting_for == ("T-09",)
    signed_form(e, world.hq, 40, at(2, 3))
    # …and T-09, an engagement step after H-00, waits for H-00 at every site.
    assert views(world, at(2, 4))[(None, "T-09")].waiting_for == ("H-00",)
    for site in (world.hq, world.region, world.branch_b, world.service_a):
        _confirm_h00(world, people, site, actor=people["tech"])
    # C10, 第二十六条第9项: 表40 alone is not the assessment; T-09 waits for the report by professionals, reviewed.
    t09 = views(world, at(2, 4))[(None, "T-09")]
    assert t09.state == state.BLOCKED
    assert "No security assessment report (第二十六条第9项)" in " ".join(t09.gate_reasons)
    assert views(world, at(2, 4))[(a.pk, "T-10")].waiting_for == ("T-09",)
    security_assessed(world, at(2, 4))
    assert views(world, at(2, 4))[(a.pk, "T-10")].state == state.DONE


def test_a_step_without_registers_needs_evidence_and_a_responsible_role_and_its_predecessors(world, people):
    start_handover(world, people)
    h00 = step(world, world.branch_a, "H-00")
    with pytest.raises(DomainError, match="evidence"):
        services.step_confirm(actor=people["onsite"], step=h00)
    services.step_evidence_add(
        actor=people["firm_it"], step=h00, name="签到表.pdf", stream=io.BytesIO(b"%PDF-1.7")
    )
    with pytest.raises(PermissionDenied):  # H-00 is 技 and 现's, not the firm's
        services.step_confirm(actor=people["firm_it"], step=h00)
    with pytest.raises(PermissionDenied):  # another branch's post
        services.step_confirm(actor=people["onsite_b"], step=h00)
    m01 = step(world, world.branch_a, "M-01")
    services.step_evidence_add(
        actor=people["onsite"], step=m01, name="会议纪要.pdf", stream=io.BytesIO(b"%PDF-1.7 m")
    )
    with pytest.raises(DomainError, match="H-00"):
        services.step_confirm(actor=people["onsite"], step=m01)
    services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 20))
    assert views(world, at(1, 16))[(world.branch_a.pk, "H-00")].state == state.DONE
    t01 = step(world, world.branch_a, "T-01")
    with pytest.raises(DomainError, match="表8"):
        services.step_confirm(actor=people["onsite"], step=t01)


def test_evidence_past_the_attachment_limit_is_refused_and_nothing_is_kept(world, people, settings):
    from pathlib import Path

    settings.HANDOVER_ATTACHMENT_MAX_BYTES = 1024 * 1024
    start_handover(world, people)
    h00 = step(world, world.branch_a, "H-00")
    folder = Path(settings.DATA_DIR) / "workflow" / "evidence"
    before = {p for p in folder.rglob("*") if p.is_file()}  # other tests' evidence shares the data folder
    with pytest.raises(DomainError, match="签到录像") as refused:
        services.step_evidence_add(
            actor=people["onsite"], step=h00, name="签到录像.mp4", stream=io.BytesIO(b"x" * (1024 * 1024 + 1))
        )
    assert refused.value.field == "file" and not Evidence.objects.exists()
    assert {p for p in folder.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("签到表.html", b"<html><script>alert(1)</script></html>", "a web page or a drawing in markup"),
        (
            "图.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "a web page or a drawing in markup",
        ),
        ("db.conf", b"[db]\nhost = 10.0.0.5\ndb_password = Hz#2026!\n", "Line 3 of db.conf"),
        ("签到表.pdf", b"a sign-in sheet, not a pdf", "named as application/pdf"),
    ],
)
def test_evidence_gets_the_attachments_type_check_and_credential_scan(
    world, people, settings, name, content, reason
):
    """Review L3: evidence accepted HTML, SVG and a configuration file holding a password."""
    from pathlib import Path

    from django.utils import translation

    start_handover(world, people)
    h00 = step(world, world.branch_a, "H-00")
    folder = Path(settings.DATA_DIR) / "workflow" / "evidence"
    before = {p for p in folder.rglob("*") if p.is_file()}
    with translation.override("en"), pytest.raises(DomainError, match=reason) as refused:
        services.step_evidence_add(actor=people["onsite"], step=h00, name=name, stream=io.BytesIO(content))
    assert refused.value.field == "file" and not Evidence.objects.exists()
    assert "Hz#2026!" not in str(refused.value)
    assert {p for p in folder.rglob("*") if p.is_file()} == before


def test_evidence_is_stored_under_the_data_folder_by_its_sha256(world, people, settings):
    import hashlib
    from pathlib import Path

    start_handover(world, people)
    h00 = step(world, world.branch_a, "H-00")
    content = b"%PDF-1.7 " + b"scan of the sign-in sheet" * 1000
    evidence = services.step_evidence_add(
        actor=people["onsite"], step=h00, name="签到.pdf", stream=io.BytesIO(content)
    )
    stored = Path(settings.DATA_DIR) / evidence.stored_as
    assert evidence.sha256 == hashlib.sha256(content).hexdigest() and stored.read_bytes() == content
    assert stored.name == evidence.sha256
    event = Event.objects.get(action="workflow.step.evidence")
    assert event.after["sha256"] == evidence.sha256
    with pytest.raises(DomainError, match="empty"):
        services.step_evidence_add(actor=people["onsite"], step=h00, name="空.pdf", stream=io.BytesIO(b""))
    assert Evidence.objects.count() == 1
    stored.write_bytes(b"damaged")  # the same content uploaded again restores the damaged copy
    again = services.step_evidence_add(
        actor=people["firm_it"], step=h00, name="签到2.pdf", stream=io.BytesIO(content)
    )
    assert again.stored_as == evidence.stored_as and stored.read_bytes() == content


def test_deadline_overrides_move_the_due_time_and_are_audited(world, people):
    start_handover(world, people)
    key = (world.branch_a.pk, "T-01")
    assert views(world, at(1, 20, 30))[key].state == state.OVERDUE
    with pytest.raises(PermissionDenied):
        services.deadline_set(
            actor=people["onsite"], engagement=world.engagement, step_id="T-01", day=0, time="22:00"
        )
    with pytest.raises(DomainError) as refused:
        services.deadline_set(
            actor=people["tech"], engagement=world.engagement, step_id="T-01", day=0, time="25:00"
        )
    assert refused.value.field == "time"
    services.deadline_set(
        actor=people["tech"], engagement=world.engagement, step_id="T-01", day=0, time="22:00"
    )
    assert views(world, at(1, 20, 30))[key].due == at(1, 22)
    assert views(world, at(1, 20, 30))[key].state != state.OVERDUE
    assert Event.objects.filter(action="workflow.deadline.set").count() == 1


def test_feedback_comes_from_the_sites_onsite_post_and_stops_escalation(world, people):
    start_handover(world, people)
    t01 = step(world, world.branch_a, "T-01")
    kwargs = {"step": t01, "reason": "备份介质不足，已从总部调拨", "expected_at": at(2, 2)}
    with pytest.raises(PermissionDenied):
        services.feedback_record(actor=people["firm_it"], now=at(1, 21), **kwargs)
    with pytest.raises(PermissionDenied):
        services.feedback_record(actor=people["onsite_b"], now=at(1, 21), **kwargs)
    with pytest.raises(DomainError) as refused:
        services.feedback_record(actor=people["onsite"], now=at(2, 3), **kwargs)
    assert refused.value.field == "expected_at"
    with pytest.raises(DomainError, match="secret"):
        services.feedback_record(
            actor=people["onsite"], now=at(1, 21), **{**kwargs, "reason": "password: Abc123!!"}
        )
    services.feedback_record(actor=people["onsite"], now=at(1, 21), **kwargs)
    a, b = (
        views(world, at(2, 0, 5))[(world.branch_a.pk, "T-01")],
        views(world, at(2, 0, 5))[(world.branch_b.pk, "T-01")],
    )
    assert a.state == b.state == state.OVERDUE
    assert not a.needs_escalation and not a.needs_feedback and a.feedback_count == 1
    assert b.needs_escalation and b.needs_feedback


def test_escalation_at_the_end_of_the_day_raises_each_late_step_once(world, people, cli):
    start_handover(world, people)
    assert services.escalations_raise(actor=cli, engagement=world.engagement, now=at(1, 23, 59)) == []
    with clock.frozen(at(2, 0, 1)):
        result = tasks.escalation_scheduled()
    raised = Escalation.objects.filter(step__site=world.branch_a).values_list("step__step_id", flat=True)
    # Due on D and not done at branch A: H-00, M-01, M-05, T-01 (20:00), T-04 (22:00), T-02 (23:30).
    assert {"T-01", "T-02", "T-04", "M-05", "H-00", "M-01"} <= set(raised)
    assert "T-03" not in raised  # due D+1 06:00: its day has not ended
    assert result["raised"] == Escalation.objects.count() > 0
    assert Event.objects.filter(action="workflow.escalation.raise").count() == result["raised"]
    again = services.escalations_raise(actor=cli, engagement=world.engagement, now=at(2, 0, 30))
    assert again == []
    assert not any(v.needs_escalation for v in views(world, at(2, 0, 30)).values() if v.step.id == "T-01")


def test_the_escalation_task_is_planned_just_after_the_next_beijing_midnight():
    escalation = schedule.job("workflow.escalation")
    assert schedule.next_slot(escalation, at(1, 14)) == at(2, 0, 1)
    assert schedule.next_slot(escalation, at(2, 0, 0)) == at(2, 0, 1)
    assert schedule.next_slot(escalation, at(2, 0, 2)) == at(3, 0, 1)


def test_wg_report_marks_the_feedback_and_escalations_it_covers(world, people, cli):
    start_handover(world, people)
    services.escalations_raise(actor=cli, engagement=world.engagement, now=at(2, 0, 5))
    late = list(Escalation.objects.all())
    with pytest.raises(PermissionDenied):
        services.wg_report_record(
            actor=people["onsite"], engagement=world.engagement, text="x", escalations=late
        )
    report = services.wg_report_record(
        actor=people["tech"], engagement=world.engagement, text="乙营业部T-01延误，已督办", escalations=late
    )
    assert set(report.escalations.all()) == set(late)


def test_phase_transitions_are_signed_audited_and_gated(world, people):
    engagement = world.engagement
    services.phase_steps_create(actor=people["tech"], engagement=engagement)
    kwargs = {"engagement": engagement, "reason": "处置日"}
    with pytest.raises(DomainError, match="disposal date"):
        services.phase_transition(
            actor=people["tech"], to_phase=Phase.HANDOVER, now=at(1, 0) - dt.timedelta(minutes=1), **kwargs
        )
    with pytest.raises(PermissionDenied):
        services.phase_transition(actor=people["onsite"], to_phase=Phase.HANDOVER, now=at(1, 9), **kwargs)
    with pytest.raises(DomainError) as refused:
        services.phase_transition(actor=people["tech"], to_phase=Phase.STABILISATION, now=at(1, 9), **kwargs)
    assert refused.value.field == "to_phase"
    with pytest.raises(DomainError):
        services.phase_transition(
            actor=people["tech"], to_phase=Phase.HANDOVER, now=at(1, 9), engagement=engagement, reason=" "
        )
    transition = services.phase_transition(
        actor=people["tech"], to_phase=Phase.HANDOVER, now=at(1, 9), **kwargs
    )
    assert Engagement.objects.get(pk=engagement.pk).phase == Phase.HANDOVER
    assert transition.signed_by.user == people["tech"] and transition.reason == "处置日"
    event = Event.objects.get(action="workflow.phase.transition")
    assert event.before == {"phase": "preparation"} and event.after["phase"] == "handover"
    with pytest.raises(DomainError, match="表24"):
        services.phase_transition(actor=people["tech"], to_phase=Phase.STABILISATION, now=at(8, 9), **kwargs)
    unsigned = Form.objects.create(
        engagement=engagement, site=world.hq, register_no=24, form_no="HQ-T24", form_date=dt.date(2026, 12, 8)
    )
    with pytest.raises(DomainError, match="表24"):
        services.phase_transition(actor=people["tech"], to_phase=Phase.STABILISATION, now=at(8, 9), **kwargs)
    Form.objects.filter(pk=unsigned.pk).update(state=FormState.SIGNED)
    with pytest.raises(DomainError, match="approval"):  # signed, but no package carrying it was approved
        services.phase_transition(actor=people["tech"], to_phase=Phase.STABILISATION, now=at(8, 9), **kwargs)
    approve_t24(unsigned)
    done = services.phase_transition(
        actor=people["tech"], to_phase=Phase.STABILISATION, now=at(8, 9), **kwargs
    )
    assert done.basis_form_id == unsigned.pk
    assert PhaseTransition.objects.count() == 2


def test_a_refused_transition_writes_nothing(world, people):
    before = Event.objects.count()
    with pytest.raises(DomainError):
        services.phase_transition(
            actor=people["tech"],
            engagement=world.engagement,
            to_phase=Phase.HANDOVER,
            reason="早",
            now=at(1, 0) - dt.timedelta(seconds=1),
        )
    assert Event.objects.count() == before and not StepInstance.objects.exists()
    assert Engagement.objects.get(pk=world.engagement.pk).phase == Phase.PREPARATION


def test_table24_counts_feedback_escalations_and_open_exceptions(world, people, cli):
    from handover.workflow import selectors
    from tests.workflow.conftest import source_row

    start_handover(world, people)
    t01 = step(world, world.branch_a, "T-01")
    services.feedback_record(
        actor=people["onsite"], step=t01, reason="介质不足", expected_at=at(2, 2), now=at(1, 21)
    )
    raised = services.escalations_raise(actor=cli, engagement=world.engagement, now=at(2, 0, 5))
    services.wg_report_record(
        actor=people["tech"], engagement=world.engagement, text="已报", escalations=raised[:2]
    )
    services.case_open(
        actor=people["onsite"],
        engagement=world.engagement,
        path_id="E05",
        source_row=source_row(world.engagement, world.branch_a, 14),
        description="备份失败",
    )
    counts = selectors.table24_counts(user=people["tech"], engagement=world.engagement)
    assert counts.feedback == 1 and counts.feedback_reported_wg == 0
    assert counts.escalations == len(raised) > 2 and counts.escalations_reported_wg == 2
    assert counts.open_cases == 1 and counts.closed_cases == 0 and counts.open_by_path == {"E05": 1}
    with pytest.raises(PermissionDenied):
        selectors.table24_counts(user=people["onsite"], engagement=world.engagement)


def test_a_register_rule_plugged_into_the_gates_blocks_the_step_and_says_why(
    world, people, client, monkeypatch
):
    from handover.workflow import gates

    start_handover(world, people)
    site = world.branch_a

    def backup_gate(engagement, pairs):
        return {(site.pk, "T-02"): ["表10 第1行缺少改密前备份（表8）"]} if (site.pk, "T-02") in pairs else {}

    monkeypatch.setattr(gates, "RULES", [backup_gate])
    view = views(world, at(1, 16))[(site.pk, "T-02")]
    assert view.state == state.BLOCKED and view.gate_reasons == ("表10 第1行缺少改密前备份（表8）",)
    assert views(world, at(1, 16))[(world.branch_b.pk, "T-02")].gate_reasons == ()
    client.force_login(people["onsite"])
    page = client.get(f"/w/{world.engagement.code}/sites/{site.pk}/").content.decode()
    assert "缺少改密前备份" in page


def test_two_technical_group_members_moving_the_phase_at_once_move_it_once(world, people):
    second = world.login_with(Role.TECH_GROUP, username="tech2")
    stale = Engagement.objects.get(pk=world.engagement.pk)
    services.phase_transition(
        actor=people["tech"],
        engagement=world.engagement,
        to_phase=Phase.HANDOVER,
        reason="进场",
        now=at(1, 9),
    )
    with pytest.raises(DomainError, match="Someone else"):
        services.phase_transition(
            actor=second, engagement=stale, to_phase=Phase.HANDOVER, reason="进场", now=at(1, 9)
        )
    assert PhaseTransition.objects.count() == 1


def test_a_step_confirmed_meanwhile_is_not_confirmed_twice(world, people):
    start_handover(world, people)
    h00 = step(world, world.branch_a, "H-00")
    stale = StepInstance.objects.get(pk=h00.pk)
    services.step_evidence_add(
        actor=people["onsite"], step=h00, name="签到.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 20))
    with pytest.raises(DomainError, match="confirmed already"):
        services.step_confirm(actor=people["tech"], step=stale, now=at(1, 15, 21))
    assert Event.objects.filter(action="workflow.step.confirm").count() == 1


def test_table24_says_reported_for_a_late_site_that_gave_same_day_feedback(world, people):
    """C13, 第二十七条第2项: 当日已反馈 comes from the feedback the workflow recorded, not from "nothing late"."""
    from handover.registers import computed, seeding
    from tests.registers import rows

    start_handover(world, people)
    b = rows.branch(world)
    b.add(7, **rows.t7(b))  # 柜台系统 now expects its 表8 backup, which is late after D

    def t8_line():
        lines = computed.handover_summary(engagement=world.engagement, as_of=dt.date(2026, 12, 2))
        return next(line for line in lines if line.register_no == 8 and line.site == world.branch_a)

    assert t8_line().overdue == 1 and t8_line().reported_daily is False
    services.feedback_record(
        actor=people["onsite"],
        step=step(world, world.branch_a, "T-01"),
        reason="备份介质不足，已从总部调拨",
        expected_at=at(2, 2),
        now=at(1, 21),
    )
    assert t8_line().reported_daily is True
    form = seeding.computed_form_build(
        actor=people["tech"],
        engagement=world.engagement,
        site=world.hq,
        register_no=24,
        form_date=dt.date(2026, 12, 2),
        as_of=dt.date(2026, 12, 2),
    )
    signed = [
        r.data
        for r in form.rows.all()
        if r.data["register_no"] == "表8" and r.data["site_id"] == world.branch_a.pk
    ]
    assert signed and signed[0]["reported_daily"] is True


def test_a_step_undone_after_its_deadline_says_why_and_owes_feedback_from_the_day_it_was_undone(
    world, people
):
    """UX review H4: T-04 was done on D (its 表14 signed at 19:00, due 22:00); a new draft 表14 opened on D+1 at
    03:09 makes it late again. The step says which register is not signed, and N-02's same-day feedback is due
    by the end of D+1, the day the lateness arose, not by the end of D, which had passed before anyone knew."""
    start_handover(world, people)
    a = world.branch_a
    h00 = StepInstance.objects.get(site=a, step_id="H-00")
    services.step_evidence_add(
        actor=people["onsite"], step=h00, name="签到.pdf", stream=io.BytesIO(b"%PDF-1.7 x")
    )
    services.step_confirm(actor=people["onsite"], step=h00, now=at(1, 15, 40))
    signed_form(world.engagement, a, 14, at(1, 19))
    assert state.compute(engagement=world.engagement, now=at(1, 21))[(a.pk, "T-04")].state == state.DONE
    draft = Form.objects.create(
        engagement=world.engagement,
        site=a,
        register_no=14,
        form_no="BA-T14-20261202-001",
        form_date=at(2, 3).date(),
    )
    Form.objects.filter(pk=draft.pk).update(created_at=at(2, 3, 9))
    views = state.compute(engagement=world.engagement, now=at(2, 9))
    t04 = views[(a.pk, "T-04")]
    assert t04.state == state.OVERDUE and any("表14" in r for r in t04.reasons), t04.reasons
    assert t04.late_since == at(2, 3, 9)
    # N-02 over this one late step alone (the site's other steps are late too in this world):
    n02 = state.StepView(0, steps.BY_ID["N-02"], a.pk, None, created_at=at(1, 15, 30))
    state.derive._same_day_feedback(n02, [t04], at(2, 9))
    assert n02.state == state.IN_PROGRESS and n02.due.astimezone(at(2, 9).tzinfo).date() == at(2, 9).date()

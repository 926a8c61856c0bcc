"""第二十七条第4项 「技术组…编制交接工作清单，报托管工作组审批」 and 第二十七条第3项 「交接工作完成之后」
(trace C14–C16): the working group approves the package in person, never 技术组 on its behalf; not while an
exception case is open; not a superseded package; not without reading the residual risk; and 表24 carries
技术组's written summary."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.org.models import Phase, Role
from handover.registers.models import FormState
from handover.reports import events, services
from handover.reports.models import PackageApproval
from handover.workflow import services as workflow
from handover.workflow.models import ExceptionCase, StepInstance, StepNote
from tests.reports.support import done_world, signed_list, working_group_member
from tests.vault.helpers import enrol_totp, next_code

pytestmark = pytest.mark.django_db


def _built(**kwargs):
    world, tech = done_world()
    return world, tech, services.package_build(actor=tech, engagement=world.engagement, **kwargs)


def test_nobody_but_a_working_group_member_approves_and_nothing_is_recorded_for_the_others():
    world, tech, package = _built()
    enrol_totp(tech)
    with pytest.raises((DomainError, PermissionDenied)):  # 技术组 builds; it does not approve its own package
        services.package_approve(actor=tech, package=package, totp_code="000000")
    bureau = world.login_with(Role.OBSERVER, username="bureau")  # an observer for the 证监局
    totp = enrol_totp(bureau)
    with pytest.raises(DomainError, match="托管工作组") as refused:
        services.package_approve(actor=bureau, package=package, totp_code=next_code(totp))
    assert refused.value.field == "user"
    member, totp = working_group_member(world)
    with pytest.raises(DomainError):
        services.package_approve(actor=member, package=package, totp_code="000000")  # a wrong code
    assert not PackageApproval.objects.exists()
    approval = services.package_approve(actor=member, package=package, totp_code=next_code(totp))
    assert approval.person.user_id == member.pk and approval.recorded_by_id == member.pk
    assert abs(approval.approved_at - timezone.now()) < dt.timedelta(minutes=5)  # the server's time
    event = Event.objects.get(action=events.PACKAGE_APPROVE)
    assert event.actor_id == member.pk and event.after["approver"] == approval.person_id


def test_an_open_exception_case_stops_the_approval_and_the_stabilisation():
    world, tech, package = _built()
    case = ExceptionCase.objects.create(
        engagement=world.engagement, site=world.branch_a, path_id="E01", description="改密后登录失败",
        opened_at=timezone.now(),
    )  # fmt: skip
    member, totp = working_group_member(world)
    with pytest.raises(DomainError, match=f"E01 #{case.pk}"):
        services.package_approve(actor=member, package=package, totp_code=next_code(totp))
    assert not PackageApproval.objects.exists()
    # An approval given before a case opened does not carry the engagement into 稳定期 over it either.
    ExceptionCase.objects.filter(pk=case.pk).delete()
    services.package_approve(actor=member, package=package, totp_code=next_code(totp))
    case = ExceptionCase.objects.create(
        engagement=world.engagement, site=world.branch_a, path_id="E01", description="改密后登录失败",
        opened_at=timezone.now(),
    )  # fmt: skip
    later = timezone.now()
    workflow.phase_transition(
        actor=tech, engagement=world.engagement, to_phase=Phase.HANDOVER, reason="处置日", now=later
    )
    with pytest.raises(DomainError, match=f"E01 #{case.pk}"):
        workflow.phase_transition(
            actor=tech, engagement=world.engagement, to_phase=Phase.STABILISATION, reason="表24", now=later
        )
    world.engagement.refresh_from_db()
    assert world.engagement.phase == Phase.HANDOVER


def test_the_residual_risk_is_read_and_only_the_newest_package_is_approved():
    world, tech = done_world()
    signed_list(world, world.branch_b, register_no=10, state=FormState.DRAFT)
    first = services.package_build(actor=tech, engagement=world.engagement, residual_risk="乙营业部次日补做")
    newest = services.package_build(actor=tech, engagement=world.engagement, residual_risk="乙营业部次日补做")
    member, totp = working_group_member(world)
    with pytest.raises(DomainError, match=newest.file_name):
        services.package_approve(
            actor=member, package=first, totp_code=next_code(totp), residual_risk_read=True
        )
    with pytest.raises(DomainError) as unread:
        services.package_approve(actor=member, package=newest, totp_code=next_code(totp))
    assert unread.value.field == "residual_risk_read" and not PackageApproval.objects.exists()
    approval = services.package_approve(
        actor=member, package=newest, totp_code=next_code(totp), residual_risk_read=True
    )
    assert approval.residual_risk_read


def test_a_login_set_up_in_the_last_day_does_not_approve():
    world, _tech, package = _built()
    member, totp = working_group_member(world)
    type(member).objects.filter(pk=member.pk).update(enrolled_at=timezone.now())
    member.refresh_from_db()
    with pytest.raises(DomainError, match="24"):
        services.package_approve(actor=member, package=package, totp_code=next_code(totp))
    assert not PackageApproval.objects.exists()


def test_table24_carries_the_written_summary_never_a_count():
    world, tech = done_world(summary="")
    with pytest.raises(DomainError, match="N-03") as refused:
        services.package_build(actor=tech, engagement=world.engagement)
    assert refused.value.field == "summary"
    step = StepInstance.objects.create(
        engagement=world.engagement, step_id="N-03", phase=Phase.HANDOVER, created_at=timezone.now()
    )
    StepNote.objects.create(step=step, text="交接完成：全部站点已签字，无遗留问题。", author=tech,
                            created_at=timezone.now())  # fmt: skip
    package = services.package_build(actor=tech, engagement=world.engagement)
    assert package.table24.get().header["summary"] == "交接完成：全部站点已签字，无遗留问题。"
    typed = services.package_build(actor=tech, engagement=world.engagement, summary="以此为准")
    assert typed.table24.get().header["summary"] == "以此为准"


def test_the_working_group_may_accept_an_open_case_as_a_residual_risk_and_the_addendum_names_it(client):
    """第二十七条第4项, 第二十八条: an open case stops the approval until it is closed or the working group itself
    accepts it as a residual risk with a reason; 技术组 and the bureau cannot; the signed addendum names it."""
    import json

    from handover.workflow.models import CaseRiskAcceptance

    world, tech, package = _built()
    case = ExceptionCase.objects.create(
        engagement=world.engagement, site=world.branch_a, path_id="E05", description="柜台系统自带备份失败",
        opened_at=timezone.now(),
    )  # fmt: skip
    with pytest.raises((DomainError, PermissionDenied)):
        workflow.case_risk_accept(actor=tech, case=case, reason="技术组自己免责")
    bureau = world.login_with(Role.OBSERVER, username="bureau")
    with pytest.raises(DomainError, match="托管工作组"):
        workflow.case_risk_accept(actor=bureau, case=case, reason="证监局代为接受")
    member, totp = working_group_member(world)
    client.force_login(member)
    listing = client.get(f"/e/{world.engagement.code}/packages/approvals/").content.decode()
    assert f'data-testid="accept-{case.pk}"' in listing
    with pytest.raises(DomainError):  # no reason, no acceptance
        workflow.case_risk_accept(actor=member, case=case, reason="  ")
    with pytest.raises(DomainError) as long:  # nor a hostile one
        workflow.case_risk_accept(actor=member, case=case, reason="理由" * 5000)
    assert long.value.field == "reason"
    accepted = client.post(
        f"/e/{world.engagement.code}/packages/cases/{case.pk}/accept/",
        {"reason": "已改用文件备份，次日由开发商修复"},
    )
    assert accepted.status_code == 302 and CaseRiskAcceptance.objects.get().accepted_by.user_id == member.pk
    with pytest.raises(DomainError) as again:
        workflow.case_risk_accept(actor=member, case=case, reason="再次接受")
    assert again.value.field == "case" and CaseRiskAcceptance.objects.count() == 1
    approval = services.package_approve(actor=member, package=package, totp_code=next_code(totp))
    assert approval.person.user_id == member.pk
    body = json.loads(services.package_addendum_issue(actor=tech, package=package))["addendum"]
    (named,) = body["residual_risks"]
    assert (named["case"], named["reason"], named["accepted_by"]) == (
        f"E05 #{case.pk}",
        "已改用文件备份，次日由开发商修复",
        member.username,
    )

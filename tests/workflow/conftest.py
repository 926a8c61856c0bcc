"""Scenery for the workflow tests: logins per role, the clock, signed register forms and 表39 entries."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any

import pytest
from django.utils import translation

from handover.core.actors import system
from handover.org.models import Engagement, Phase, Role, Site
from handover.registers import services as registers
from handover.registers.models import Form, FormState, Row, Signature, SignatureKind
from handover.workflow import services
from handover.workflow.deadlines import BEIJING


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Beijing time in December 2026; the tests' D is 2026-12-01."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=BEIJING)


@pytest.fixture
def people(world):
    return {
        "tech": world.login_with(Role.TECH_GROUP, username="tech"),
        "onsite": world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_a"),
        "firm_it": world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it_a"),
        "onsite_b": world.login_with(Role.ONSITE_POST, site=world.branch_b, username="onsite_b"),
        "firm_it_b": world.login_with(Role.FIRM_IT, site=world.branch_b, username="firm_it_b"),
        "onsite_hq": world.login_with(Role.ONSITE_POST, site=world.hq, username="onsite_hq"),
        "firm_it_hq": world.login_with(Role.FIRM_IT, site=world.hq, username="firm_it_hq"),
        "observer": world.login_with(Role.OBSERVER, username="observer"),
    }


def start_handover(world, people, now: dt.datetime | None = None) -> None:
    """准备期 steps, then 交接期 on D, as 技术组 does it."""
    services.phase_steps_create(actor=people["tech"], engagement=world.engagement, now=at(1, 8))
    services.phase_transition(
        actor=people["tech"],
        engagement=world.engagement,
        to_phase=Phase.HANDOVER,
        reason="处置日进场",
        now=now or at(1, 15, 30),
    )


def signed_form(engagement: Engagement, site: Site, register_no: int, signed_at: dt.datetime) -> Form:
    """A signed form as the registers app leaves it (scenery: its own tests cover signing)."""
    form = Form.objects.create(
        engagement=engagement,
        site=site,
        register_no=register_no,
        form_no=f"{site.code}-T{register_no:02d}-{Form.objects.count() + 1:04d}",
        form_date=date(2026, 12, 1),
        state=FormState.SIGNED,
    )
    person = site.people.first() or engagement.people.first()
    signature = Signature.objects.create(
        form=form, kind=SignatureKind.FOOTER, role=Role.ONSITE_POST, person=person
    )
    Signature.objects.filter(pk=signature.pk).update(signed_at=signed_at)
    return form


def security_assessed(world, when: dt.datetime) -> None:
    """第二十六条第9项's security assessment report, signed by its assessor and reviewed by a second person, as
    the risk app leaves it (scenery: tests/risk/test_assessment.py issues and signs real ones). T-09 waits for it."""
    from handover.risk.models import AssessmentReport

    AssessmentReport.objects.create(
        engagement=world.engagement, kind="security", version=AssessmentReport.objects.count() + 1,
        as_of=when.astimezone(BEIJING).date(), assessors="某测评中心 张工", scope="全部系统", sha256="0" * 64,
        size=1, made_by_name="tech", signed_by=world.person_a, signed_at=when, reviewed_by=world.person_b,
        reviewed_at=when,
    )  # fmt: skip


def approve_t24(form: Form, *, approved_at: dt.datetime | None = None) -> None:
    """A handover package carrying ``form`` (a signed 表24) with the working group's approval recorded
    (scenery: tests/reports builds and approves real packages)."""
    from handover.reports.models import HandoverPackage, PackageApproval

    at_ = approved_at or at(8, 9)
    package = HandoverPackage.objects.create(
        engagement=form.engagement, file_name=f"{form.form_no}.zip", size=1, digest=f"{form.pk:064x}",
        manifest_digest="0" * 64, algorithm="sha256", files=1, checkpoint_seq=0, built_by_name="tech",
        built_at=at_,
    )  # fmt: skip
    package.table24.add(form)
    user = form.engagement.people.exclude(user=None).first().user
    PackageApproval.objects.create(
        package=package, approver="托管工作组 王组长", approved_at=at_, recorded_by=user
    )


def source_row(engagement: Engagement, site: Site, register_no: int, **data: Any) -> Row:
    """A register row where a problem shows (a failed test in 表10, a failed backup in 表14 …)."""
    form = Form.objects.create(
        engagement=engagement,
        site=site,
        register_no=register_no,
        form_no=f"{site.code}-T{register_no:02d}-src-{Form.objects.count() + 1:04d}",
        form_date=date(2026, 12, 1),
    )
    return Row.objects.create(form=form, seq=1, data=data)


T39_FOR = {  # what each path's 表39 entry needs beyond the common columns (definitions/annex5.py)
    "E02": {
        "sub_type": "遗忘/联系不上",
        "wg_approval": "工作组函〔2026〕1号",
        "reported_wg_at": "2026-12-01T23:00",
    },
    "E06": {"sub_type": "介质损坏无法读取", "reported_wg_at": "2026-12-02T09:00"},  # tampering is ticked
}
VENDOR_PATHS = ("E01", "E05", "E10")


def t39_entry(
    world, people, case, *, sign: bool = True, reported: bool = True, **extra: Any
) -> tuple[Form, Row]:
    """The 表39 entry of ``case``, filled by the site's 现场技术岗位 through the registers' services and, with
    ``sign``, submitted and signed by 现场技术岗位 and 被托管技术方, and acknowledged by 技术组's signature."""
    site = case.site
    onsite, firm_it = (
        (people["onsite"], people["firm_it"])
        if site == world.branch_a
        else (
            people["onsite_hq"],
            people["firm_it_hq"],
        )
    )
    from handover.registers.definitions.annex5 import E

    data: dict[str, Any] = {
        "risk_no": f"R-{case.pk}",
        "phase": "交接期",
        "site_id": site.pk,
        "exc_type": E[case.path_id],
        "found_at": "2026-12-01T21:00",
        "description": case.description,
        "impact": "交接延后",
        "trading_impact": "否",
        "steps_done": "按第二十八条处置",
        "outcome": "已解决",
        "state": "已关闭",
        "closed_on": "2026-12-02",
        **T39_FOR.get(case.path_id, {}),
        **({"vendor_org_id": world.org.pk} if case.path_id in VENDOR_PATHS else {}),
        **extra,
    }
    if reported:
        data["reported_tg_at"] = "2026-12-01T23:30"
    if case.source_row_id:
        data["source_row_ref"] = case.source_row_id
    form = registers.form_create(
        actor=onsite, engagement=world.engagement, site=site, register_no=39, form_date=date(2026, 12, 1)
    )
    row = registers.row_add(actor=onsite, form=form, data=data)
    if sign:
        registers.form_submit(actor=onsite, form=form)
        registers.form_sign(actor=onsite, form=form)
        registers.form_sign(actor=firm_it, form=form)
        registers.form_sign(actor=people["tech"], form=form)  # 技术组 acknowledges (第二十八条; C17)
        form.refresh_from_db()
    return form, row


@pytest.fixture(autouse=True)
def english():
    """Service messages are matched in English here; the pages pick their language per request."""
    with translation.override("en"):
        yield


@pytest.fixture
def cli():
    return system("test")

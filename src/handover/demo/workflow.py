"""The demo engagement mid-handover (issue 4): D was yesterday; 杭州营业部 has done its handover, 杭州西湖服务部
is late with same-day feedback, the other sites are late and were escalated at midnight; 深圳福田营业部 has an
open E05 (backup failure) and 杭州营业部 a closed E01 (password change failure) with its signed 表39 entry.

Everything goes through the services, as the people would do it. Register rows are filled with plain
placeholder values that pass each register's column rules; the workflow services are given the times of
the story (``now``), the registers stamp their signatures with the real time, so steps due on D show as
"done late" at 杭州营业部, as they would after a night's work.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.accounts.models import User
from handover.core.actors import system
from handover.org import services as org_services
from handover.org.models import Engagement, OrgType, Party, Person, Phase, Role, Site
from handover.registers import catalogue
from handover.registers import services as registers
from handover.registers.columns import Column
from handover.registers.definitions.annex5 import E
from handover.registers.models import Form, FormState, Row, SignatureKind
from handover.registers.validation import clean_row
from handover.workflow import services, steps
from handover.workflow.deadlines import BEIJING
from handover.workflow.models import StepInstance

DONE_SITE, LATE_SITE, E05_SITE = "BR-HZ", "SP-HZ1", "BR-SZ"
_SAMPLE = {"text": "演示", "ltext": "演示记录", "date": None, "dt": None, "int": 1, "dec": "1", "ref": 1}


def _value(column: Column, day: dt.date) -> Any:
    if column.type == "enum":
        return column.choices[0].zh
    if column.type == "bool":
        return False
    if column.type == "date":
        return day.isoformat()
    if column.type == "dt":
        return f"{day.isoformat()}T20:00"
    if column.type == "refs":
        return [1]
    if column.type == "att":
        return "演示附件.pdf"
    return _SAMPLE[column.type]


def sample_row(register_no: int, day: dt.date, **given: Any) -> dict[str, Any]:
    """Values for one row of 表N that pass its column rules: the required columns, then whatever a
    condition makes required."""
    columns = catalogue.columns(register_no)
    data = {c.key: _value(c, day) for c in columns if c.required == "R"} | given
    by_key = {c.key: c for c in columns}
    for _attempt in range(len(columns)):
        _clean, errors = clean_row(columns, data)
        missing = [key for key in errors if key in by_key and key not in data]
        if not errors or not missing:
            break
        data |= {key: _value(by_key[key], day) for key in missing}
    return data


class Signers:
    """The logins that fill and sign at a site: 现场技术岗位, 被托管技术方, 财务, 技术组."""

    def __init__(self, onsite: User, firm_it: User, finance: User, tech: User) -> None:
        self.by_role: dict[str, User] = {
            Role.ONSITE_POST: onsite,
            Role.FIRM_IT: firm_it,
            Role.FIRM_FINANCE: finance,
            Role.TECH_GROUP: tech,
        }


def signed_form(
    signers: Signers, engagement: Engagement, site: Site, register_no: int, day: dt.date, **given: Any
) -> Row:
    """Fill one row of 表N at ``site`` and sign it as the register asks (第八条 pair, then the footer)."""
    onsite, firm_it = signers.by_role[Role.ONSITE_POST], signers.by_role[Role.FIRM_IT]
    form = registers.form_create(
        actor=firm_it, engagement=engagement, site=site, register_no=register_no, form_date=day
    )
    row = registers.row_add(actor=firm_it, form=form, data=sample_row(register_no, day, **given))
    if catalogue.get(register_no).dual_signature:
        registers.row_sign(actor=firm_it, row=row, kind=SignatureKind.EXECUTOR)
        registers.row_sign(actor=onsite, row=row, kind=SignatureKind.SUPERVISOR)
    registers.form_submit(actor=firm_it, form=form)
    for role in registers.footer_roles(register_no):
        registers.form_sign(actor=signers.by_role[role], form=form)
    return row


def ensure_signed(
    signers: Signers, engagement: Engagement, site: Site, register_no: int, day: dt.date
) -> Row:
    """The registers demo (demo/registers.py, run first) has filled most forms with realistic rows: sign
    every form of 表N it left open at the site; fill and sign one only where the site has none yet."""
    forms = list(
        Form.objects.filter(
            engagement=engagement, site=site, register_no=register_no, is_current=True
        ).order_by("pk")
    )
    if not forms:
        return signed_form(signers, engagement, site, register_no, day)
    for form in forms:
        _sign_open_form(signers, form)
    return forms[0].rows.filter(is_current=True).order_by("seq").first()  # type: ignore[return-value]


def _sign_open_form(signers: Signers, form: Form) -> None:
    """Bring a draft or submitted form to signed: the 第八条 pair on each row, then the footer by role."""
    firm_it = signers.by_role[Role.FIRM_IT]
    if form.state == FormState.DRAFT:
        if catalogue.get(form.register_no).dual_signature:
            for row in form.rows.filter(is_current=True).exclude(signatures__kind=SignatureKind.EXECUTOR):
                registers.row_sign(actor=firm_it, row=row, kind=SignatureKind.EXECUTOR)
                registers.row_sign(
                    actor=signers.by_role[Role.ONSITE_POST], row=row, kind=SignatureKind.SUPERVISOR
                )
        registers.form_submit(actor=firm_it, form=form)
    given = set(form.signatures.values_list("role", flat=True))
    for role in registers.footer_roles(form.register_no):
        if role not in given:
            registers.form_sign(actor=signers.by_role[role], form=form)


def _at(day: dt.date, hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=BEIJING)


def _evidence_and_confirm(actor: User, step: Any, when: dt.datetime) -> None:
    services.step_evidence_add(
        actor=actor,
        step=step,
        name=f"{step.step_id}-记录.pdf",
        stream=io.BytesIO(b"%PDF-1.4\n% " + f"{step.step_id} 演示记录".encode()),  # evidence is type-checked
        now=when,
    )
    services.step_confirm(actor=actor, step=step, now=when)


def _hq_signers(engagement: Engagement, tech: User, finance: User) -> Signers:
    """Logins for head office's existing 现场技术岗位 and a firm IT person there, so HQ's registers can be signed."""
    actor = system("demo")
    hq = Site.objects.get(engagement=engagement, code="HQ")
    onsite_person = Person.objects.filter(engagement=engagement, site=hq, party=Party.ONSITE_POST).first()
    it_person = Person.objects.filter(engagement=engagement, site=hq, party=Party.FIRM_IT).first()
    users = []
    for person, name in ((onsite_person, "demo-hq-onsite"), (it_person, "demo-hq-it")):
        assert person is not None
        user, _code = accounts.user_create(actor=actor, username=name, display_name=person.name)
        # Bootstrapped at the console with no password: they hold their roles for the demo's signatures, and
        # only a reset approved by a second 技术组 member opens them (docs/access-policy.md, review H1).
        enrolment.login_bootstrap_console(actor=actor, user=user, password=None)
        org_services.person_link_login(actor=actor, person=person, user=user)
        users.append(user)
    assert it_person is not None
    org_services.role_grant(actor=actor, person=it_person, role=Role.FIRM_IT, site=hq)
    return Signers(users[0], users[1], finance, tech)


def build(engagement: Engagement) -> None:
    """Run the demo's preparation and handover through the services (engagement just created, D yesterday)."""
    logins = {u.username: u for u in User.objects.filter(username__startswith="demo-")}
    tech, onsite, firm_it, finance = (
        logins[n] for n in ("demo-tech", "demo-onsite-hz", "demo-firm-it", "demo-finance")
    )
    d = engagement.disposal_date
    sites = {s.code: s for s in Site.objects.filter(engagement=engagement)}
    hq_signers = _hq_signers(engagement, tech, finance)
    _preparation(engagement, tech, hq_signers, d)
    services.phase_transition(
        actor=tech,
        engagement=engagement,
        to_phase=Phase.HANDOVER,
        reason="处置日：技术组进场，开始交接",
        now=_at(d, 15, 5),
    )
    for site in sites.values():
        _evidence_and_confirm(tech, _step(engagement, site, "H-00"), _at(d, 15, 20))
    branch = Signers(onsite, firm_it, finance, tech)
    _handover_done(engagement, sites[DONE_SITE], branch, hq_signers, d)
    _late_with_feedback(engagement, sites[LATE_SITE], branch, d)
    _open_e05(engagement, sites[E05_SITE], tech, d)
    services.escalations_raise(actor=system("escalation"), engagement=engagement, now=_at(d, 0, 1, days=1))


def _step(engagement: Engagement, site: Site | None, step_id: str) -> Any:
    return StepInstance.objects.get(engagement=engagement, site=site, step_id=step_id)


def _preparation(engagement: Engagement, tech: User, hq: Signers, d: dt.date) -> None:
    services.phase_steps_create(actor=tech, engagement=engagement, now=_at(d, 9, days=-12))
    hq_site = Site.objects.get(engagement=engagement, code="HQ")
    for number in (1, 2, 3, 4, 20):  # P-03's 摸底 returns and P-07's contacts, filed at head office
        ensure_signed(hq, engagement, hq_site, number, d - dt.timedelta(days=8))
    for step in steps.for_phase(steps.PREPARATION):
        if not step.outputs:
            due = _at(d, 12, days=(step.deadline.day if step.deadline else 0))
            _evidence_and_confirm(tech, _step(engagement, None, step.id), due)


def _handover_done(engagement: Engagement, site: Site, signers: Signers, hq: Signers, d: dt.date) -> None:
    """杭州营业部: every step of its level, through its registers; its E01 closed with a signed 表39 entry."""
    _evidence_and_confirm(signers.by_role[Role.ONSITE_POST], _step(engagement, site, "M-01"), _at(d, 15, 50))
    rows = {}
    for step in steps.for_site_level(steps.HANDOVER, site.level):
        for number in step.outputs:
            if number not in rows:
                rows[number] = ensure_signed(signers, engagement, site, number, d)
    hq_site = Site.objects.get(engagement=engagement, code="HQ")
    ensure_signed(hq, engagement, hq_site, 40, d)  # T-09's remediation plan, at head office
    _closed_e01(engagement, site, signers, rows[10], d)


def _closed_e01(engagement: Engagement, site: Site, signers: Signers, source: Row, d: dt.date) -> None:
    onsite, firm_it = signers.by_role[Role.ONSITE_POST], signers.by_role[Role.FIRM_IT]
    case = services.case_open(
        actor=onsite,
        engagement=engagement,
        path_id="E01",
        source_row=source,
        description="柜台系统后台用户改密后测试失败",
        now=_at(d, 22, 40),
    )
    services.case_tick(
        actor=firm_it, case=case, key="vendor_support", record="恒信金融软件有限公司", now=_at(d, 23, 0)
    )
    services.case_tick(
        actor=firm_it,
        case=case,
        key="restore_original",
        note="已恢复原密码，系统恢复正常",
        now=_at(d, 23, 20),
    )
    entry = signed_form(
        signers,
        engagement,
        site,
        39,
        d,
        exc_type=E["E01"],
        site_id=site.pk,
        source_row_ref=source.pk,
        vendor_org_id=_vendor(engagement),
        reported_tg_at=f"{d.isoformat()}T23:30",
        state="已关闭",
        closed_on=d.isoformat(),
    )
    services.case_link_t39(actor=onsite, case=case, row=entry, now=_at(d, 23, 35))
    services.case_close(actor=onsite, case=case, now=_at(d, 23, 40))


def _vendor(engagement: Engagement) -> int:
    return engagement.organisations.get(type=OrgType.APP_VENDOR).pk


def _late_with_feedback(engagement: Engagement, site: Site, signers: Signers, d: dt.date) -> None:
    """杭州西湖服务部: T-01 not done in time; its 现场技术岗位 reports it the same evening (第二十七条第2项)."""
    onsite = signers.by_role[Role.ONSITE_POST]
    _evidence_and_confirm(onsite, _step(engagement, site, "M-01"), _at(d, 15, 55))
    signed_form(signers, engagement, site, 7, d)
    for step_id in ("T-01", "T-04"):
        services.feedback_record(
            actor=onsite,
            step=_step(engagement, site, step_id),
            reason="移动硬盘容量不足，已向营业部调拨备份介质",
            expected_at=_at(d, 2, days=1),
            now=_at(d, 20, 30),
        )


def _open_e05(engagement: Engagement, site: Site, tech: User, d: dt.date) -> None:
    """深圳福田营业部: the counter system's own backup failed (表14); the developer has been called."""
    form = registers.form_create(actor=tech, engagement=engagement, site=site, register_no=14, form_date=d)
    row = registers.row_add(actor=tech, form=form, data=sample_row(14, d))
    case = services.case_open(
        actor=tech,
        engagement=engagement,
        path_id="E05",
        source_row=row,
        description="柜台系统自带备份功能执行失败",
        now=_at(d, 21, 30),
    )
    services.case_tick(
        actor=tech, case=case, key="vendor_support", record="恒信金融软件有限公司", now=_at(d, 21, 50)
    )

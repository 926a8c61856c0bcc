"""The demo's security management, on top of the demo engagement (``handover demo`` calls ``load`` once the
engagement and its registers exist): a risk register with an accepted risk, one graded incident whose
clocks are running, a plan with a drill held and one overdue, and evidence linked to a duty. Idempotent: an
engagement that has risks already is left as it is."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction

from handover.core import clock
from handover.core.actors import Actor, system
from handover.org.models import Engagement, Party, Person
from handover.registers.models import Row
from handover.risk.models import Risk, Scenario, Treatment
from handover.risk.services import assessment, compliance, incidents, plans, register
from handover.workflow.deadlines import BEIJING


def _login(username: str) -> Actor:
    """A demo login: demo.org makes them before this story."""
    return get_user_model().objects.get(username=username)


def load(engagement: Engagement) -> bool:
    """Add the story; False if it was there already."""
    if Risk.objects.filter(engagement=engagement).exists():
        return False
    actor, now = system("demo"), clock.now()
    today = now.astimezone(BEIJING).date()
    owner = (
        Person.objects.filter(engagement=engagement, party=Party.FIRM_IT, is_active=True)
        .order_by("pk")
        .first()
    )
    capa = Row.objects.filter(form__engagement=engagement, form__register_no=40, is_current=True).first()
    with transaction.atomic():
        _risks(engagement, actor, owner, capa, today)
        _incident(engagement, actor, now)
        _plans(engagement, actor, today, capa)
        _vulns(engagement, actor, now)
        _suppliers(engagement, actor, today)
        _changes(engagement, now)
        _capacity(engagement, actor, today)
        _privacy(engagement, actor)
        _security_assessment(engagement, now)
        compliance.evidence_link(actor=actor, engagement=engagement, duty="M03",
                                 description="集中交易系统等保三级备案证明",
                                 reference="公安机关备案证明（演示）")  # fmt: skip
    return True


_SCAN_HEAD = "IP地址,主机名,端口,协议,漏洞名称,风险等级,CVE编号,插件ID,解决方案\n"
_FINDINGS = (
    (
        22,
        "tcp",
        "OpenSSH 安全漏洞（regreSSHion）",
        "高危",
        "CVE-2024-6387",
        "201194",
        "升级 OpenSSH 至 9.8p1",
    ),
    (443, "tcp", "SSL/TLS 协议信息泄露漏洞", "中危", "CVE-2016-2183", "94437", "禁用 3DES 套件"),
    (3389, "tcp", "远程桌面服务远程代码执行漏洞", "紧急", "CVE-2019-0708", "125313", "安装 KB4499175"),
    (161, "udp", "SNMP 默认团体名", "中危", "CVE-1999-0517", "41028", "修改团体名"),
)


def _security_assessment(engagement: Engagement, now: dt.datetime) -> None:
    """第二十六条第9项: the handover's security assessment by professionals, issued as version 1, signed by the
    assessor (技术组) and reviewed by 杭州营业部's 现场技术岗位 (第八条): what T-09 waits for besides 表40."""
    assessor, reviewer = _login("demo-tech"), _login("demo-onsite-hz")
    report = assessment.assessment_report_issue(
        actor=assessor, engagement=engagement, kind="security",
        assessors="技术组 安全评估小组（演示）：张工 CISP、李工 CISSP；某信息安全测评中心（演示）",
        scope="总部、区域中心及各营业部的交易、清算、网络与安全设备", now=now,
    )  # fmt: skip
    assessment.assessment_report_sign(actor=assessor, report=report)
    assessment.assessment_report_sign(actor=reviewer, report=report)


def _vulns(engagement: Engagement, actor: Actor, now: dt.datetime) -> None:
    """Two scans of a firm's scanner (a CSV with Chinese headers, as 绿盟 RSAS exports it) ten and three days
    ago; the second no longer reports one finding, which closes; and one finding of a supervisory inspection."""
    from handover.registers.models import Asset
    from handover.risk.services import vulns

    hosts = list(Asset.objects.filter(engagement=engagement).exclude(hostname="").order_by("pk").values_list(
        "hostname", flat=True)[:4])  # fmt: skip
    if not hosts:
        return
    rows = [f"10.8.{n}.11,{host},{','.join(str(v) for v in finding)}"
            for n, host in enumerate(hosts) for finding in _FINDINGS[n % 2 :: 2]]  # fmt: skip
    for days, keep in (
        (10, rows),
        (10, rows),
        (3, rows[1:]),
    ):  # the first file twice: the same scan, no change
        at = now - dt.timedelta(days=days)
        content = (_SCAN_HEAD + "\n".join(keep) + "\n").encode("gb18030")
        vulns.vulns_import(actor=actor, engagement=engagement, fmt="csv", filename=f"RSAS-{at:%Y%m%d}.csv",
                           content=content, scanner="rsas", scanned_at=at)  # fmt: skip
    vulns.vuln_record(actor=actor, engagement=engagement, source="inspection", severity="high",
                      title="营业部交易终端未部署网络准入控制", host=hosts[0], reference="现场检查问题清单 第3项",
                      found_at=now - dt.timedelta(days=5))  # fmt: skip


def _suppliers(engagement: Engagement, actor: Actor, today: dt.date) -> None:
    """The application developer filed (备案 on record); the line carrier important but not yet filed."""
    from handover.org.models import Organisation, OrgType
    from handover.risk.services.suppliers import supplier_set

    developer = (
        Organisation.objects.filter(engagement=engagement, type=OrgType.APP_VENDOR).order_by("pk").first()
    )
    carrier = (
        Organisation.objects.filter(engagement=engagement, type=OrgType.LINE_CARRIER).order_by("pk").first()
    )
    if developer is not None:
        supplier_set(actor=actor, engagement=engagement, organisation=developer, criticality="important",
                     substitutability="hard", services="集中交易、柜台系统开发与维保", filing="filed",
                     filing_reference="信息技术系统服务机构备案（演示）第 2026-0315 号",
                     filed_on=today - dt.timedelta(days=200))  # fmt: skip
    if carrier is not None:
        supplier_set(actor=actor, engagement=engagement, organisation=carrier, criticality="important",
                     substitutability="easy", services="交易所报盘专线", filing="required")  # fmt: skip


def _changes(engagement: Engagement, now: dt.datetime) -> None:
    """A counter upgrade next week after the close, approved by two, waiting for its investors' notice; a freeze
    over the spring festival."""
    from handover.registers.models import InformationSystem
    from handover.risk.services import changes

    requester, first, second = _login("demo-tech"), _login("demo-onsite-hz"), _login("demo-firm-it")
    system = (
        InformationSystem.objects.filter(engagement=engagement, category="集中交易").order_by("pk").first()
    )
    if requester is None or system is None:
        return
    day = now.astimezone(BEIJING).date() + dt.timedelta(days=7)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(18), tzinfo=BEIJING)
    change = changes.change_request(
        actor=requester, engagement=engagement, kind="modify", title="集中交易系统升级至 V8.2（演示）", system=system,
        risk_assessment="影响委托与清算；已在测试环境完成全量回归，风险可控",
        test_evidence="测试报告 T-2026-31（演示）", rollback_plan="停机回退至 V8.1 全备份，30 分钟内恢复",
        window_start=start,
        window_end=start + dt.timedelta(hours=4), notice_required=True,
    )  # fmt: skip
    for approver in (first, second):
        if approver is not None:
            changes.change_approve(actor=approver, change=change)
    changes.freeze_set(actor=requester, engagement=engagement, starts_on=dt.date(now.year + 1, 2, 10),
                       ends_on=dt.date(now.year + 1, 2, 20), reason="春节前后重要时期保障")  # fmt: skip


def _capacity(engagement: Engagement, actor: Actor, today: dt.date) -> None:
    """The centralised trading system's pressure test: 1.6× its peak, below the 2× minimum."""
    import io

    from handover.registers.models import InformationSystem
    from handover.risk.services.capacity import capacity_record

    system = (
        InformationSystem.objects.filter(engagement=engagement, category="集中交易").order_by("pk").first()
    )
    if system is None:
        return
    report = io.BytesIO("%PDF-1.4\n% 集中交易系统压力测试报告（演示）\n".encode())
    capacity_record(actor=actor, engagement=engagement, system=system, metric="委托笔数/秒", peak=6200,
                    peak_on=today - dt.timedelta(days=240), tested=10000, tested_on=today - dt.timedelta(days=30),
                    report=report, report_name="集中交易系统压力测试报告.pdf")  # fmt: skip


def _privacy(engagement: Engagement, actor: Actor) -> None:
    """One processing activity on the centralised trading system; the other systems holding investors' data stay
    open items of the inventory."""
    from handover.registers.models import InformationSystem
    from handover.risk.services.privacy import activity_set

    names = list(InformationSystem.objects.filter(engagement=engagement, category="集中交易").values_list(
        "name", flat=True).distinct()[:1])  # fmt: skip
    if names:
        activity_set(actor=actor, engagement=engagement, name="委托、成交与资金（演示）",
                     purpose="执行投资者委托并清算交收",
                     basis="履行证券经纪合同所必需", categories=["identity", "account", "trading", "funds"],
                     systems=names, recipients="证券交易所、中国结算、存管银行（法定报送与交收）",
                     retention="销户后 20 年")  # fmt: skip


def _risks(
    engagement: Engagement, actor: Actor, owner: Person | None, capa: Row | None, today: dt.date
) -> None:
    if owner is None:
        return
    specs = (
        ("R-001", "交易网与办公网之间缺少访问控制", {"inherent": (4, 5), "current": (3, 5), "residual": (2, 3)},
         Treatment.MITIGATE, capa),
        ("R-002", "报盘线路无天地备份", {"inherent": (3, 5), "current": (3, 5), "residual": (3, 4)},
         Treatment.OPEN, None),
        ("R-003", "老旧柜台系统不再受厂商支持", {"inherent": (3, 3), "current": (3, 3), "residual": (3, 3)},
         Treatment.OPEN, None),
    )  # fmt: skip
    for number, title, scores, treatment, row in specs:
        values = {f"{stage}_{axis}": value for stage, pair in scores.items()
                  for axis, value in zip(("likelihood", "impact"), pair, strict=True)}  # fmt: skip
        register.risk_create(actor=actor, engagement=engagement, number=number, title=title, owner=owner,
                             scores=values, treatment=treatment, capa_row=row, system_name="集中交易系统")  # fmt: skip
    asker, approver = _login("demo-onsite-hz"), _login("demo-tech")
    if asker is not None and approver is not None:
        risk = Risk.objects.get(engagement=engagement, number="R-003")
        asked = register.acceptance_request(actor=asker, risk=risk, reason="稳定期内不更换柜台系统，以人工复核替代",
                                            expires_on=today + dt.timedelta(days=90))  # fmt: skip
        register.acceptance_approve(actor=approver, acceptance=asked)


def _incident(engagement: Engagement, actor: Actor, now: dt.datetime) -> None:
    detected = now - dt.timedelta(minutes=20)
    incidents.incident_open(actor=actor, engagement=engagement, number="INC-001",
                            title="杭州营业部集中交易系统委托中断", system_name="集中交易系统",
                            system_class=5, trading_system=True, detected_at=detected,
                            down_minutes=12, affected_pct=3, description="营业部交易主机宕机，已切换备机。",
                            now=now)  # fmt: skip


def _plans(engagement: Engagement, actor: Actor, today: dt.date, capa: Row | None) -> None:
    version = plans.plan_version_record(actor=actor, engagement=engagement, title="信息系统总体应急预案",
                                        scenarios=list(Scenario.values),
                                        procedures="一、启动条件；二、处置流程；三、恢复与报告。",
                                        effective_on=today - dt.timedelta(days=120),
                                        feasibility_checked_on=today - dt.timedelta(days=100))  # fmt: skip
    held = today - dt.timedelta(days=60)
    plans.drill_record(actor=actor, plan_version=version, scenario=Scenario.TRADING_OUTAGE, due_on=held,
                       held_on=held, participants="技术组；杭州营业部现场技术岗位；被托管技术方", target_rto_minutes=30,
                       measured_rto_minutes=42, target_rpo_minutes=0, measured_rpo_minutes=0,
                       outcome="备机切换成功，超出目标恢复时间12分钟",
                       findings=[("备机切换脚本需人工确认，耗时过长", capa.pk if capa else None)])  # fmt: skip
    plans.drill_record(actor=actor, plan_version=version, scenario=Scenario.PROVIDER_EXIT,
                       due_on=today - dt.timedelta(days=10))  # fmt: skip

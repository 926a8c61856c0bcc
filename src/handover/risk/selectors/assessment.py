"""The content of the risk-assessment reports, read from the registers and this app's records: the initial
assessment (guideline 第二十条第8项) and the overall one (第三十二~三十六条), in the guideline's structure:
技术模式 (第三十四条), 运行状况 (第三十五条), 技术管理状况 (第三十六条), then the risk register. Each item names the
registers it is filled from; an item with none of them filled says 无数据."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers import catalogue
from handover.registers.models import Form, FormState, Row
from handover.risk import rules
from handover.risk.models import AssessmentReport, Drill, Incident, PlanVersion, Risk, Vulnerability
from handover.risk.selectors.common import visible
from handover.risk.selectors.register import levels_of

NO_DATA = "无数据"
KINDS = {
    "initial": "初步风险评估报告",
    "security": "信息系统安全评估报告",
    "overall": "信息系统整体风险评估报告",
}
BASIS = {"initial": "《技术指引》第二十条第8项", "security": "《技术指引》第二十六条第9项",
         "overall": "《技术指引》第三十二~三十六条"}  # fmt: skip

# (section, article, [(item, registers)]): the guideline's structure and the registers each item reads.
STRUCTURE: tuple[tuple[str, str, tuple[tuple[str, tuple[int, ...]], ...]], ...] = (
    ("技术模式", "第三十四条", (
        ("网络拓扑结构：交易网、办公网、互联网之间的隔离情况及安全策略", (3,)),
        ("应用系统技术架构：前后台分离、传输加密、系统漏洞及缺陷", (2, 4, 17, 33)),
        ("系统环境：周边控制、安全措施", (22, 38, 25, 26)),
    )),
    ("运行状况", "第三十五条", (
        ("关键设备备份情况：关键服务器、主干路由器和交换机、通信线路及交易所报盘线路“天地”备份", (2, 3, 21, 32)),
        ("系统设备性能状况", (41, 30, 33, 32)),
        ("故障应急处理能力：应急资源与应急能力", (5, 39, 40)),
    )),
    ("技术管理状况", "第三十六条", (
        ("管理制度、工作流程、技术资料", (18, 34)),
        ("人员分工", (1, 5, 6)),
        ("现有系统用户使用情况", (11, 12, 28)),
    )),
)  # fmt: skip


@dataclass
class Item:
    title: str
    lines: list[str] = field(default_factory=list)  # empty: 无数据


@dataclass
class Section:
    title: str
    article: str
    items: list[Item]


@dataclass
class Assessment:
    kind: str
    title: str
    basis: str
    engagement: Engagement
    as_of: dt.date
    sections: list[Section]
    risks: list[str]
    serious: list[
        str
    ]  # risks whose current level is high or above (第二十条第8项: report to the working group)


def _register_lines(engagement: Engagement) -> dict[int, str]:
    """One sentence per register with current rows: rows, open ones where the register knows, signed forms."""
    counts = dict(
        Row.objects.filter(form__engagement=engagement, form__is_current=True, is_current=True)
        .values_list("form__register_no")
        .annotate(n=Count("pk"))
    )
    open_rows = dict(
        Row.objects.filter(form__engagement=engagement, form__is_current=True, is_current=True)
        .filter(Q(form__register_no=39, data__state="处理中") | Q(form__register_no=40, data__closed=False))
        .values_list("form__register_no")
        .annotate(n=Count("pk"))
    )
    signed = dict(
        Form.objects.filter(engagement=engagement, is_current=True, state=FormState.SIGNED)
        .values_list("register_no")
        .annotate(n=Count("pk"))
    )
    lines = {}
    for number, rows in counts.items():
        text = f"{catalogue.get(number).title}：{rows} 条记录，已签字表单 {signed.get(number, 0)} 份"
        if number in open_rows:
            text += f"，未关闭 {open_rows[number]} 条"
        lines[number] = text
    return lines


def _emergency_lines(engagement: Engagement) -> list[str]:
    lines = []
    versions = PlanVersion.objects.filter(plan__engagement=engagement).select_related("plan")
    lines += [f"应急预案：{v.plan.title} 第{v.version}版，覆盖场景 {len(v.scenarios)} 个" for v in versions]
    for drill in Drill.objects.filter(engagement=engagement, held_on__isnull=False).order_by("-held_on")[:10]:
        lines.append(f"应急演练：{drill.held_on} {drill.get_scenario_display()}，RTO 实测 "
                     f"{drill.measured_rto_minutes if drill.measured_rto_minutes is not None else '—'} 分钟 / 目标 "
                     f"{drill.target_rto_minutes if drill.target_rto_minutes is not None else '—'} 分钟")  # fmt: skip
    incidents = Incident.objects.filter(engagement=engagement)
    if incidents.exists():
        lines.append(f"网络安全事件：{incidents.count()} 起")
    return lines


def _findings_section(engagement: Engagement, registers: dict[int, str]) -> Section:
    """第二十六条第9项 「找出潜在技术风险，并提出整改方案，在规定时间内监督被托管方完成」: the open findings by
    severity and source, and the remediation plan (表40) with its dates."""
    found = dict(
        Vulnerability.objects.filter(engagement=engagement, closed_at__isnull=True)
        .values_list("severity")
        .annotate(n=Count("pk"))
    )
    names = {"critical": "紧急", "high": "高危", "medium": "中危", "low": "低危"}
    findings = (
        [f"未关闭的漏洞：{'，'.join(f'{names[k]} {found[k]} 个' for k in names if k in found)}"]
        if found
        else []
    )
    plan = [registers[40]] if 40 in registers else []
    return Section("安全评估发现与整改", "第二十六条第9项", [
        Item("潜在技术风险：漏洞扫描、渗透测试与检查发现", findings),
        Item("整改方案及完成期限（表40）", plan),
    ])  # fmt: skip


def assessment_content(*, user: Actor, engagement: Engagement, kind: str, as_of: dt.date) -> Assessment:
    """The report's content; ``kind`` is ``initial``, ``security`` (the handover's security assessment, with the
    findings and the remediation plan, 第二十六条第9项) or ``overall``."""
    visible(user, engagement, perms.VIEW_RISK)
    registers = _register_lines(engagement)
    sections = []
    for title, article, items in STRUCTURE:
        filled = []
        for item_title, numbers in items:
            lines = [registers[n] for n in numbers if n in registers]
            if title == "运行状况" and 39 in numbers:
                lines += _emergency_lines(engagement)
            filled.append(Item(item_title, lines))
        sections.append(Section(title, article, filled))
    if kind == "security":
        sections.append(_findings_section(engagement, registers))
    matrix = rules.current().matrix
    risks, serious = [], []
    for risk in Risk.objects.filter(engagement=engagement).select_related("owner").order_by("number"):
        levels = levels_of(risk, matrix)
        line = (f"{risk.number} {risk.title}：固有 {levels.inherent}，当前 {levels.current}，"
                f"剩余 {levels.residual or '未评估'}；责任人 {risk.owner.name}；"
                f"处置 {risk.get_treatment_display()}")  # fmt: skip
        risks.append(line)
        if matrix.level(risk.current_likelihood, risk.current_impact) >= max(2, len(matrix.names) - 1):
            serious.append(line)
    return Assessment(kind, KINDS[kind], BASIS[kind], engagement, as_of, sections, risks, serious)


def report_versions(*, user: Actor, engagement: Engagement) -> list[Any]:
    """Every issued version of the assessment reports, newest first per kind, with their signatures."""
    from handover.risk.models import AssessmentReport

    visible(user, engagement, perms.VIEW_RISK)
    return list(
        AssessmentReport.objects.filter(engagement=engagement).select_related(
            "signed_by", "reviewed_by", "engagement"
        )
    )


def security_assessment_gate(
    engagement: Engagement, pairs: Iterable[tuple[int | None, str]]
) -> dict[tuple[int | None, str], list[str]]:
    """第二十六条第9项: T-09, the security assessment, is done by professionals, so it waits for a security
    assessment report dated on or after D that its assessor signed and a second person reviewed (第八条), besides
    表40's remediation plan. A rule of the workflow's gates (workflow.gates.plug, from this app's ready); one
    query, only when T-09 is asked about."""
    key = (None, "T-09")
    if key not in set(pairs):
        return {}
    versions = list(
        AssessmentReport.objects.filter(engagement=engagement, kind="security")
        .order_by("-version")
        .values_list("version", "as_of", "signed_at", "reviewed_at")
    )
    disposal = engagement.disposal_date
    if any(reviewed and as_of >= disposal for _v, as_of, _s, reviewed in versions):
        return {}
    if not versions:
        reason = _(
            "No security assessment report (第二十六条第9项): issue the 信息系统安全评估报告 under 安全管理 › "
            "评估报告, naming the professionals who assessed and the scope; the assessor signs it and a second "
            "person reviews it."
        )
    else:
        version, as_of, signed, _reviewed = versions[0]
        if as_of < disposal:
            reason = _(
                "The security assessment report v%(v)d is dated %(date)s, before the disposal day: the assessment "
                "of 第二十六条第9项 is of the systems as handed over; issue a new version."
            ) % {"v": version, "date": as_of.isoformat()}
        elif signed is None:
            reason = _(
                "The security assessment report v%(v)d is not signed by its assessor, nor reviewed by a second person "
                "(第二十六条第9项, 第八条)."
            ) % {"v": version}
        else:
            reason = _(
                "The security assessment report v%(v)d is signed by its assessor but not yet reviewed by a second "
                "person (第二十六条第9项, 第八条)."
            ) % {"v": version}
    return {key: [reason]}

"""Writes of the reports owed (三(七)一): record a report as filed with its receipt, and draft the annual security
report from the year's records (Word, in Chinese; a person completes, signs and files it)."""

from __future__ import annotations

import datetime as dt
import io

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import gettext as _
from docx import Document

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import firm_label_for
from handover.risk import events
from handover.risk.models import (
    CapacityRecord,
    Change,
    Drill,
    Incident,
    ProcessingActivity,
    ReportFiling,
    Risk,
    Supplier,
    Vulnerability,
    VulnScan,
)
from handover.risk.selectors.obligations import reports_owed
from handover.risk.services.common import allowed, who
from handover.workflow.deadlines import BEIJING


def filing_record(
    *, actor: Actor, engagement: Engagement, key: str, filed_at: dt.datetime, reference: str
) -> ReportFiling:
    """Record that the report ``key`` of the catalogue was filed, with the receipt's reference."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    owed = {o.key: o for o in reports_owed(user=actor, engagement=engagement, now=clock.now()) if o.key}
    if key not in owed:
        raise DomainError(_("No report %(key)s is owed in this engagement.") % {"key": key}, field="key")
    if not (reference or "").strip():
        raise DomainError(_("Give the receipt's reference (number, or the system's acknowledgement)."),
                          field="reference")  # fmt: skip
    if filed_at > clock.now() + dt.timedelta(minutes=10):
        raise DomainError(_("A report is recorded once filed, not before."), field="filed_at")
    _user, name = who(actor)
    try:
        with transaction.atomic():
            filing = ReportFiling.objects.create(engagement=engagement, key=key, title=owed[key].title[:200],
                                                 filed_at=filed_at, reference=reference.strip()[:300],
                                                 filed_by_name=name)  # fmt: skip
            event_record(actor=actor, action=events.FILING_RECORD, engagement_id=engagement.pk, obj=filing,
                         after={"key": key, "filed_at": filed_at.isoformat(),
                                "reference": filing.reference})  # fmt: skip
    except IntegrityError:
        raise DomainError(_("%(key)s is recorded as filed already.") % {"key": key}, field="key") from None
    return filing


def _span(year: int) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime(year, 1, 1, tzinfo=BEIJING), dt.datetime(year + 1, 1, 1, tzinfo=BEIJING))


def annual_report_export(*, actor: Actor, engagement: Engagement, year: int) -> bytes:
    """The draft of ``year``'s security report: what Handover holds of that year, each part marked 无数据 when
    nothing is on record."""
    allowed(actor, engagement, perms.VIEW_RISK)
    if not 2000 <= year <= clock.now().astimezone(BEIJING).year:
        raise DomainError(_("Give a year that has begun."), field="year")
    start, end = _span(year)
    hidden = firm_label_for(
        user=actor, engagement=engagement
    )  # 第十一条: the code name unless the name may be read
    label = engagement.firm_name if hidden is None else hidden
    document = Document()
    document.add_heading(f"{year}年度网络和信息安全工作报告（草稿）", level=0)
    document.add_paragraph(f"报告单位：{label}")
    document.add_paragraph("依据：《证券期货业网络和信息安全管理办法》（证监会令第218号）；本草稿由托管交接平台根据当年记录生成，"
                           "须经核对、补充并签字后报送。")  # fmt: skip

    def section(title: str, lines: list[str]) -> None:
        document.add_heading(title, level=1)
        for line in lines or ["无数据"]:
            document.add_paragraph(line)

    incidents = Incident.objects.filter(engagement=engagement, detected_at__gte=start, detected_at__lt=end)
    section("一、网络安全事件及报告情况", [
        f"{i.number} {i.title}（{i.system_name}，{i.get_grade_display()}，"
        f"发现于 {i.detected_at.astimezone(BEIJING):%Y-%m-%d %H:%M}）"
        for i in incidents.order_by("detected_at")
    ])  # fmt: skip
    drills = Drill.objects.filter(engagement=engagement, held_on__year=year).order_by("held_on")
    section(
        "二、应急预案与演练",
        [f"{d.held_on:%Y-%m-%d} {d.get_scenario_display()}：{d.participants}" for d in drills],
    )
    scans = VulnScan.objects.filter(engagement=engagement, scanned_at__gte=start, scanned_at__lt=end)
    found = Vulnerability.objects.filter(engagement=engagement, first_seen__gte=start, first_seen__lt=end)
    by_severity = dict(found.values_list("severity").annotate(n=Count("pk")))
    closed = found.filter(closed_at__isnull=False, closed_at__lt=end).count()
    lines = [f"漏洞扫描 {scans.count()} 次；新发现漏洞 {found.count()} 个（紧急 {by_severity.get('critical', 0)}、高危 "
             f"{by_severity.get('high', 0)}、中危 {by_severity.get('medium', 0)}、低危 {by_severity.get('low', 0)}），"
             f"年内关闭 {closed} 个。"] if scans.exists() or found.exists() else []  # fmt: skip
    section("三、漏洞管理与安全检查", lines)
    changes = Change.objects.filter(engagement=engagement, window_start__gte=start, window_start__lt=end)
    section("四、信息系统变更", [f"{c.number} {c.title}（{c.system_name}，{c.get_state_display()}）"
                           for c in changes.order_by("window_start")])  # fmt: skip
    tests = CapacityRecord.objects.filter(engagement=engagement, tested_on__year=year).order_by("tested_on")
    section("五、容量管理与压力测试", [
        f"{t.tested_on:%Y-%m-%d} {t.system_name}：{t.metric} 测试容量 {t.tested}，历史峰值 {t.peak}"
        f"（{(t.tested / t.peak):.2f} 倍）" for t in tests
    ])  # fmt: skip
    suppliers = Supplier.objects.filter(engagement=engagement).select_related("organisation")
    section("六、供应商管理", [f"{s.organisation.name}：{s.get_criticality_display()}，{s.get_filing_display()}"
                          for s in suppliers])  # fmt: skip
    activities = ProcessingActivity.objects.filter(engagement=engagement)
    section(
        "七、投资者个人信息保护",
        [f"{a.name}：{'、'.join(a.systems)}；保存期限 {a.retention}" for a in activities],
    )
    risks = Risk.objects.filter(engagement=engagement)
    section("八、风险评估与整改", [f"{r.number} {r.title}（{r.get_treatment_display()}）" for r in risks])
    document.add_paragraph("负责人（签字）：            日期：")
    out = io.BytesIO()
    document.save(out)
    content = out.getvalue()
    event_record(actor=actor, action=events.ANNUAL_EXPORT, engagement_id=engagement.pk,
                 object_type="risk.annual", object_id=str(year),
                 after={"year": year, "bytes": len(content)})  # fmt: skip
    return content

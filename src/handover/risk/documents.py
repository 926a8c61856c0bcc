"""Documents of security management, in Chinese, as Word files (python-docx).

The incident report is pre-filled with what Handover knows, in the order of the report form of
证监会公告〔2021〕12号 附件1-3 《网络安全事件情况报告书》 as far as its headings are known here (the form's
exact layout is not held by this project: docs/risk.md); the person completes and signs it.
"""

from __future__ import annotations

import html
import io

from docx import Document

from handover.risk import rules
from handover.risk.models import ClockKind, Grade, Incident
from handover.risk.selectors.assessment import NO_DATA, Assessment
from handover.workflow.deadlines import BEIJING

_CLASS = {1: "一类", 2: "二类", 3: "三类", 4: "四类", 5: "五类"}
_CLOCK = {
    ClockKind.IMMEDIATE: "即时报告",
    ClockKind.UPDATE: "交易系统中断期间续报",
    ClockKind.WRITTEN: "书面报告",
    ClockKind.INVESTIGATION: "调查报告",
}
_GRADE = {Grade.EXTREME: "特别重大", Grade.MAJOR: "重大", Grade.LARGE: "较大", Grade.GENERAL: "一般"}


def _when(value: object) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else "—"  # type: ignore[attr-defined]


def incident_report_docx(incident: Incident, *, firm_label: str) -> bytes:
    """The report of one incident, pre-filled; ``firm_label`` is the name the reader may see (第十一条)."""
    document = Document()
    document.add_heading("网络安全事件情况报告书", level=0)
    document.add_paragraph(f"报告单位：{firm_label}")
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    ruleset = rules.current()
    for label, value in (
        ("事件编号", incident.number),
        ("事件名称", incident.title),
        ("发现时间", _when(incident.detected_at)),
        ("涉及信息系统", f"{incident.system_name}（{_CLASS.get(incident.system_class, '')}系统）"),
        ("服务能力异常", f"持续 {incident.down_minutes} 分钟，影响用户约 {incident.affected_pct}%"),
        ("投资者数据泄露", f"{incident.leaked_records} 条"),
        ("事件级别", _GRADE.get(Grade(incident.grade), "") if incident.grade else "未分级"),
        ("分级依据", f"{incident.grade_rule}（规则版本 {incident.grading_version}）"),
        ("恢复时间", _when(incident.restored_at)),
        ("事件经过", incident.description or "（待填写）"),
    ):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    if not ruleset.verified:
        document.add_paragraph(f"注：分级与报告时限采用默认值，尚未据原文核对（{ruleset.source}）。")
    document.add_heading("报告时限", level=1)
    for owed in incident.clocks.order_by("due_at", "pk"):
        state = (
            "已报告 " + _when(owed.done_at)
            if owed.done_at
            else ("不再需要" if owed.cancelled_at else "未报告")
        )
        document.add_paragraph(
            f"{_CLOCK[ClockKind(owed.kind)]}（第{owed.seq}次）：应于 {_when(owed.due_at)} 前；{state}"
        )
    document.add_heading("事件时间线", level=1)
    for entry in incident.timeline.order_by("at", "pk"):
        document.add_paragraph(f"{_when(entry.at)}  {entry.text}")
    document.add_heading("已告知的相关方", level=1)
    notices = list(incident.notices.order_by("notified_at", "pk"))
    for notice in notices:
        document.add_paragraph(
            f"{_when(notice.notified_at)}  {notice.party}（{notice.channel}）：{notice.summary}"
        )
    if not notices:
        document.add_paragraph("无")
    document.add_heading("关联登记", level=1)
    document.add_paragraph(f"表39：{_row(incident.t39_row)}；表40：{_row(incident.t40_row)}")
    document.add_paragraph("报告人（签字）：            复核人（签字）：            日期：")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _row(row: object) -> str:
    return f"{row.form.form_no} 第{row.seq}行" if row is not None else "未关联"  # type: ignore[attr-defined]


def _assessment_blocks(assessment: Assessment, firm_label: str) -> list[tuple[str, str]]:
    """The report as (kind, text) blocks: ``h0``/``h1``/``h2`` headings and ``p`` paragraphs."""
    blocks = [("h0", assessment.title), ("p", f"被评估机构：{firm_label}"),
              ("p", f"依据：{assessment.basis}；评估截止日期：{assessment.as_of.isoformat()}")]  # fmt: skip
    for number, section in enumerate(assessment.sections, start=1):
        blocks.append(("h1", f"{number}. {section.title}（{section.article}）"))
        for item in section.items:
            blocks.append(("h2", item.title))
            blocks += [("p", line) for line in item.lines] or [("p", NO_DATA)]
    blocks.append(("h1", f"{len(assessment.sections) + 1}. 风险清单"))
    blocks += [("p", line) for line in assessment.risks] or [("p", NO_DATA)]
    if assessment.kind == "initial":
        blocks.append(("h1", "较为严重的风险（应及时报告托管工作组，第二十条第8项）"))
        blocks += [("p", line) for line in assessment.serious] or [("p", "无")]
    blocks.append(("p", "评估人（签字）：            复核人（签字）：            日期："))
    return blocks


def assessment_docx(assessment: Assessment, *, firm_label: str) -> bytes:
    """The assessment report as a Word file."""
    document = Document()
    for kind, text in _assessment_blocks(assessment, firm_label):
        if kind == "p":
            document.add_paragraph(text)
        else:
            document.add_heading(text, level=int(kind[1]))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PDF_STYLE = """
@page { size: A4; margin: 20mm 18mm; }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 10.5pt; }
h1 { font-size: 18pt; text-align: center; } h2 { font-size: 13pt; } h3 { font-size: 11pt; }
"""


def assessment_pdf(assessment: Assessment, *, firm_label: str) -> bytes:
    """The assessment report as a PDF (WeasyPrint, as the registers' exports)."""
    from weasyprint import HTML  # imported late: it loads Pango, which only PDF exports need

    tags = {"h0": "h1", "h1": "h2", "h2": "h3", "p": "p"}
    body = "".join(
        f"<{tags[k]}>{html.escape(t)}</{tags[k]}>" for k, t in _assessment_blocks(assessment, firm_label)
    )
    document = (f"<!doctype html><html lang='zh-Hans'><head><meta charset='utf-8'><style>{PDF_STYLE}</style>"
                f"</head><body>{body}</body></html>")  # fmt: skip
    return bytes(HTML(string=document).write_pdf())

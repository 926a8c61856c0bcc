"""The initial and overall risk assessments, in the guideline's structure, read back from Word and PDF."""

from __future__ import annotations

import io
import subprocess

import pytest
from django.core.management import call_command
from docx import Document

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.registers.models import Row
from handover.risk import events
from handover.risk.services import register
from handover.risk.services.assessment import assessment_report_export
from tests.factories import register_form


def _scenery(world) -> None:
    form = register_form(world.engagement, world.hq, 3)
    Row.objects.create(form=form, seq=1, data={})
    register.risk_create(actor=system("test"), engagement=world.engagement, number="R-1", title="交易网与互联网未隔离",
                         owner=world.person_a, scores={"inherent_likelihood": 5, "inherent_impact": 5,
                                                       "current_likelihood": 4, "current_impact": 5})  # fmt: skip


def _text_docx(content: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)


def test_the_initial_assessment_in_word_follows_the_guideline_and_names_the_serious_risks(world, people):
    _scenery(world)
    text = _text_docx(assessment_report_export(actor=people["tech"], engagement=world.engagement, kind="initial",
                                               fmt="docx"))  # fmt: skip
    assert text.startswith("初步风险评估报告") and "《技术指引》第二十条第8项" in text
    for heading in (
        "1. 技术模式（第三十四条）",
        "2. 运行状况（第三十五条）",
        "3. 技术管理状况（第三十六条）",
        "4. 风险清单",
    ):
        assert heading in text
    topology = text.split("网络拓扑结构")[1].split("应用系统技术架构")[0]
    assert "表3：企业主干网情况表：1 条记录" in topology
    performance = text.split("系统设备性能状况")[1].split("故障应急处理能力")[0]
    assert "无数据" in performance  # nothing in 表41/30/33/32
    serious = text.split("较为严重的风险")[1]
    assert "R-1 交易网与互联网未隔离：固有 极高，当前 极高" in serious
    assert world.engagement.firm_name in text
    assert Event.objects.filter(action=events.ASSESSMENT_EXPORT).count() == 1


def test_the_overall_assessment_as_pdf_reads_back_with_pdftotext(world, people, tmp_path):
    _scenery(world)
    out = tmp_path / "overall.pdf"
    call_command("risk", "report", "--engagement", world.engagement.code, "--kind", "overall", "--format", "pdf",
                 "-o", str(out), stdout=io.StringIO())  # fmt: skip
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "信息系统整体风险评估报告" in text and "技术管理状况" in text and "交易网与互联网未隔离" in text


def test_an_unknown_kind_or_format_is_refused_naming_it(world, people):
    with pytest.raises(DomainError) as kind:
        assessment_report_export(actor=people["tech"], engagement=world.engagement, kind="annual", fmt="docx")
    with pytest.raises(DomainError) as fmt:
        assessment_report_export(actor=people["tech"], engagement=world.engagement, kind="overall", fmt="odt")
    assert (kind.value.field, fmt.value.field) == ("kind", "format")
    assert not Event.objects.filter(action=events.ASSESSMENT_EXPORT).exists()

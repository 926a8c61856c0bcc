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
from tests.risk.conftest import at


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


# -- issued versions -----------------------------------------------------------------------------------------


def test_a_report_is_kept_in_versions_signed_by_the_assessor_and_reviewed_by_another_person(world, people):
    import io as _io

    from django.db import IntegrityError as _IntegrityError
    from django.db import transaction as _transaction
    from docx import Document as _Document

    from handover.core.errors import DomainError as _DomainError
    from handover.risk.models import AssessmentReport
    from handover.risk.services.assessment import (
        assessment_report_file,
        assessment_report_issue,
        assessment_report_sign,
    )

    tech, tech2 = people["tech"], people["tech2"]
    with pytest.raises(_DomainError) as missing:
        assessment_report_issue(
            actor=tech, engagement=world.engagement, kind="overall", assessors=" ", scope="全部"
        )
    assert missing.value.field == "assessors"
    assessors = "某信息安全测评中心 张三（CISP）"
    first = assessment_report_issue(actor=tech, engagement=world.engagement, kind="overall", assessors=assessors,
                                    scope="总部及全部营业部信息系统")  # fmt: skip
    second = assessment_report_issue(actor=tech, engagement=world.engagement, kind="overall",
                                     assessors="某信息安全测评中心 张三（CISP）", scope="总部")  # fmt: skip
    assert (first.version, second.version) == (1, 2)
    text = [
        p.text for p in _Document(_io.BytesIO(assessment_report_file(actor=tech, report=first))).paragraphs
    ]
    assert text[0] == "信息系统整体风险评估报告"
    signed = assessment_report_sign(actor=tech, report=first)
    assert signed.signed_by.user == tech and signed.reviewed_by is None
    with pytest.raises(_DomainError, match="第八条"):
        assessment_report_sign(actor=tech, report=first)
    reviewed = assessment_report_sign(actor=tech2, report=first)
    assert reviewed.reviewed_by.user == tech2
    with pytest.raises(_DomainError, match="already"):
        assessment_report_sign(actor=people["onsite"], report=first)
    with pytest.raises(_IntegrityError), _transaction.atomic():  # the database refuses one person twice too
        AssessmentReport.objects.filter(pk=second.pk).update(signed_by=reviewed.signed_by,
                                                             reviewed_by=reviewed.signed_by)  # fmt: skip


def test_the_page_issues_and_the_versions_download(world, people, client):
    from django.urls import reverse

    from handover.risk.models import AssessmentReport

    client.force_login(people["tech"])
    page = reverse("risk:assessment_list", args=[world.engagement.code])
    answer = client.post(
        page, {"act": "issue", "kind": "initial", "assessors": "技术组 李四", "scope": "总部"}
    )
    report = AssessmentReport.objects.get()
    assert answer.status_code == 302 and report.kind == "initial"
    client.post(page, {"act": "sign", "report": report.pk})
    assert AssessmentReport.objects.get().signed_by.user == people["tech"]
    served = client.get(reverse("risk:assessment_file", args=[world.engagement.code, report.pk]))
    assert served.status_code == 200 and served.content[:2] == b"PK"
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403


def test_t09_waits_for_a_security_assessment_report_dated_on_or_after_d_signed_and_reviewed(world, people):
    """C10, 第二十六条第9项: the workflow's T-09 is blocked, with a reason saying what is missing, until a
    security assessment report by named professionals is signed by its assessor and reviewed by another person
    (第八条); one dated before D does not assess the systems as handed over. The report lists the open findings
    and the remediation plan (表40)."""
    from handover.risk.selectors.assessment import security_assessment_gate
    from handover.risk.services.assessment import (
        assessment_report_file,
        assessment_report_issue,
        assessment_report_sign,
    )
    from handover.workflow import gates

    e, tech, tech2 = world.engagement, people["tech"], people["tech2"]
    key = (None, "T-09")

    def reasons() -> str:
        assert (
            gates.PLUGGED["risk.security_assessment"] is security_assessment_gate
        )  # plugged by RiskConfig.ready
        return " ".join(
            gates.blocking_reasons(engagement=e, pairs=[key, (world.branch_a.pk, "T-10")]).get(key, [])
        )

    assert "No security assessment report (第二十六条第9项)" in reasons()
    before_d = at(2026, 11, 30)
    early = assessment_report_issue(actor=tech, engagement=e, kind="security", assessors="某测评中心 张三（CISP）",
                                    scope="全部信息系统", now=before_d)  # fmt: skip
    assessment_report_sign(actor=tech, report=early)
    assessment_report_sign(actor=tech2, report=early)
    assert "v1 is dated 2026-11-30, before the disposal day" in reasons()
    report = assessment_report_issue(actor=tech, engagement=e, kind="security", assessors="某测评中心 张三（CISP）",
                                     scope="全部信息系统", now=at(2026, 12, 3))  # fmt: skip
    assert "v2 is not signed by its assessor" in reasons()
    assessment_report_sign(actor=tech, report=report)
    assert "v2 is signed by its assessor but not yet reviewed" in reasons()
    assessment_report_sign(actor=tech2, report=report)
    assert reasons() == ""
    assert (
        gates.blocking_reasons(engagement=e, pairs=[(world.branch_a.pk, "T-10")]) == {}
    )  # asked only of T-09
    text = _text_docx(assessment_report_file(actor=tech, report=report))
    assert text.startswith("信息系统安全评估报告") and "《技术指引》第二十六条第9项" in text
    assert "安全评估发现与整改（第二十六条第9项）" in text and "整改方案及完成期限（表40）" in text

"""Reports owed to the regulator (三(七)一): the catalogue with due dates and status (incident clocks, drills, the
annual report, the 表1–4 returns and the next one expected, 表24), filings with their receipt, and the annual
report drafted from the year's records and read back from the Word file."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from docx import Document

from handover.audit.models import Event
from handover.core import clock
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.registers.models import FormState
from handover.risk.selectors.obligations import annual_due, next_period, reports_owed
from handover.risk.services import incidents, obligations
from tests.factories import register_form
from tests.risk.conftest import at


def test_the_next_return_period_follows_the_cycle_across_the_year_end():
    assert next_period("2026-11", "月报") == ("2026-12", dt.date(2026, 12, 31))
    assert next_period("2026-12", "月报") == ("2027-01", dt.date(2027, 1, 31))
    assert next_period("2026年2月", "月报") == ("2026-03", dt.date(2026, 3, 31))
    assert next_period("2026Q3", "季报") == ("2026Q4", dt.date(2026, 12, 31))
    assert next_period("2026Q4", "季报") == ("2027Q1", dt.date(2027, 3, 31))
    assert next_period("上半年", "季报") is None and next_period("2026-13", "月报") is None


def test_the_annual_report_is_due_on_the_configured_day(settings):
    assert annual_due(2027) == dt.date(2027, 4, 30)
    settings.HANDOVER_ANNUAL_REPORT_DUE = "03-31"
    assert annual_due(2027) == dt.date(2027, 3, 31)


@pytest.fixture
def scene(world, people):
    e = world.engagement
    with clock.frozen(at(2026, 12, 2, 10, 5)):
        incidents.incident_open(actor=system("test"), engagement=e, number="INC-1", title="集中交易中断",
                                system_name="集中交易系统", system_class=5, trading_system=True,
                                detected_at=at(2026, 12, 2, 10), down_minutes=40)  # fmt: skip
    register_form(e, world.hq, 1, header={"report_period": "2026-10", "report_cycle": "月报"},
                  state=FormState.SIGNED)  # fmt: skip
    return e


def _owed(world, user, now):
    return {o.title: o for o in reports_owed(user=user, engagement=world.engagement, now=now)}


def test_the_catalogue_lists_each_report_with_its_due_date_and_status(world, people, scene):
    now = at(2026, 12, 5, 12)
    owed = _owed(world, people["tech"], now)
    immediate = owed["INC-1: 即时报告"]
    assert immediate.status == "overdue" and immediate.due_at < now
    annual = owed["Annual security report 2025"]
    assert (
        annual.due_at.date() == dt.date(2026, 4, 30)
        and annual.status == "overdue"
        and annual.key == "annual:2025"
    )
    receipt = next(o for o in owed.values() if o.kind == "return" and o.key)
    assert (
        receipt.status == "overdue" and "2026-10" in receipt.title
    )  # signed, the bureau's receipt not recorded
    assert owed["表1 月报 2026-11: next return expected"].status == "expected"
    assert owed["表1 月报 2026-11: next return expected"].due_at.date() == dt.date(2026, 11, 30)
    assert "表24 handover summary to the working group (第二十七条第4项)" in owed
    statuses = [o.status for o in reports_owed(user=people["tech"], engagement=world.engagement, now=now)]
    assert statuses == sorted(statuses, key=["overdue", "due", "expected", "done"].index)  # overdue first


def test_a_filing_needs_a_report_of_the_catalogue_and_its_receipt_and_is_recorded_once(world, people, scene):
    tech = people["tech"]
    with pytest.raises(DomainError) as unknown:
        obligations.filing_record(actor=tech, engagement=world.engagement, key="annual:1999", filed_at=clock.now(),
                                  reference="x")  # fmt: skip
    assert unknown.value.field == "key"
    with pytest.raises(DomainError) as receipt:
        obligations.filing_record(actor=tech, engagement=world.engagement, key="annual:2025", filed_at=clock.now(),
                                  reference=" ")  # fmt: skip
    assert receipt.value.field == "reference"
    obligations.filing_record(actor=tech, engagement=world.engagement, key="annual:2025",
                              filed_at=at(2026, 4, 28, 16), reference="证监局报送系统回执 2026-0428-117")  # fmt: skip
    annual = _owed(world, tech, clock.now())["Annual security report 2025"]
    assert annual.status == "done" and annual.reference.endswith("117")
    with pytest.raises(DomainError, match="already"):
        obligations.filing_record(actor=tech, engagement=world.engagement, key="annual:2025", filed_at=clock.now(),
                                  reference="again")  # fmt: skip


def test_the_annual_report_is_drafted_from_the_years_records_and_reads_back(world, people, scene):
    content = obligations.annual_report_export(actor=people["tech"], engagement=world.engagement, year=2026)
    text = [p.text for p in Document(io.BytesIO(content)).paragraphs]
    assert text[0] == "2026年度网络和信息安全工作报告（草稿）"
    assert any(line.startswith("INC-1 集中交易中断（集中交易系统") for line in text)
    assert "三、漏洞管理与安全检查" in text and text[text.index("三、漏洞管理与安全检查") + 1] == "无数据"
    assert Event.objects.filter(action="risk.annual.export").count() == 1
    with pytest.raises(DomainError):
        obligations.annual_report_export(actor=people["tech"], engagement=world.engagement, year=2099)


def test_the_command_lists_what_is_owed_and_fails_when_something_is_overdue(world, scene, tmp_path):
    out = io.StringIO()
    with pytest.raises(SystemExit) as ended:
        call_command("risk", "owed", "--engagement", world.engagement.code, stdout=out)
    assert ended.value.code == 1 and out.getvalue().startswith("OVERDUE")
    target = tmp_path / "2026.docx"
    call_command("risk", "annual", "--engagement", world.engagement.code, "--year", "2026", "-o", str(target),
                 stdout=io.StringIO())  # fmt: skip
    assert Document(str(target)).paragraphs[0].text.startswith("2026年度")


def test_the_page_records_a_filing_and_serves_the_draft(world, people, client, scene):
    client.force_login(people["tech"])
    page = reverse("risk:owed_list", args=[world.engagement.code])
    assert 'data-status="overdue"' in client.get(page).content.decode()
    client.post(page, {"key": "annual:2025", "filed_at": "2026-04-28 16:00", "reference": "回执 117"})
    owed = reports_owed(user=people["tech"], engagement=world.engagement, now=clock.now())
    # By key: the page's request switched the language of this thread.
    assert next(o for o in owed if o.key == "annual:2025").status == "done"
    draft = client.get(reverse("risk:annual_report", args=[world.engagement.code, 2026]))
    assert draft.status_code == 200 and draft["Content-Disposition"].endswith('2026.docx"')
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403

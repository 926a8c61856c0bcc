"""The duty library and the compliance view: each duty's declared evidence is found on a demo-like
engagement, each piece taken away shows as missing, and a duty with no evidence is missing."""

from __future__ import annotations

import io

import pytest

from handover.core import clock
from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import OrgType, Role
from handover.registers import inventory
from handover.registers.models import FormState, Row
from handover.risk import library
from handover.risk.models import ClockKind, Scenario
from handover.risk.selectors.compliance import Status, compliance_view
from handover.risk.services import (
    capacity,
    changes,
    compliance,
    incidents,
    plans,
    privacy,
    register,
    suppliers,
    vulns,
)
from tests.factories import OrganisationFactory, register_form
from tests.risk.conftest import at
from tests.risk.scans import F, S, nessus

KEYS = sorted({key for duty in library.DUTIES for key in duty.evidence})
NOW = at(2026, 12, 10, 15)


def build(world, skip: str = "") -> None:
    """Everything the library's evidence keys look for, except ``skip``."""
    e, hq, actor = world.engagement, world.hq, system("test")
    numbers = {int(k.split(":")[1]) for k in KEYS if ":" in k}
    for number in sorted(numbers):
        signed = f"signed:{number}" in KEYS and skip != f"signed:{number}"
        form = register_form(e, hq, number, state=FormState.SIGNED if signed else FormState.DRAFT)
        if skip != f"rows:{number}" and (f"rows:{number}" in KEYS or signed):
            Row.objects.create(form=form, seq=1, data={})
    if skip != "risk_register":
        register.risk_create(actor=actor, engagement=e, number="R-1", title="交易网与办公网未隔离",
                             owner=world.person_a, scores={"inherent_likelihood": 4, "inherent_impact": 5,
                                                           "current_likelihood": 3, "current_impact": 5})  # fmt: skip
    scenarios = [s.value for s in Scenario if skip != "plan_scenarios" or s != Scenario.PROVIDER_EXIT]
    version = plans.plan_version_record(actor=actor, engagement=e, title="总体应急预案", scenarios=scenarios,
                                        procedures="……", effective_on=at(2026, 1, 1).date())  # fmt: skip
    held = at(2026, 6, 1).date() if skip != "drill_in_year" else at(2025, 6, 1).date()
    plans.drill_record(actor=actor, plan_version=version, scenario=Scenario.TRADING_OUTAGE, due_on=held,
                       held_on=held, participants="技术组；被托管技术方")  # fmt: skip
    with clock.frozen(NOW):
        incident = incidents.incident_open(actor=actor, engagement=e, number="INC-1", title="集中交易中断",
                                           system_name="集中交易系统", system_class=5, trading_system=True,
                                           detected_at=at(2026, 12, 9, 10))  # fmt: skip
        for kind in (ClockKind.WRITTEN, ClockKind.INVESTIGATION):
            if skip != {"written": "incident_reported", "investigation": "incident_investigated"}[kind]:
                incidents.incident_report_record(actor=actor, incident=incident, kind=kind, text="已报证监局")
        if skip != "incident_notice":
            incidents.incident_notice_record(actor=actor, incident=incident, party="上海证券交易所", channel="电话",
                                             notified_at=at(2026, 12, 9, 11), summary="交易中断")  # fmt: skip

    scanned = at(2026, 12, 1) if skip != "vuln_scan_quarter" else at(2026, 6, 1)
    vulns.vulns_import(actor=actor, engagement=e, fmt="nessus", filename="月度.nessus",
                       content=nessus(S(scanned, {"10.8.1.11": ""}, [F("10.8.1.11", 22, "173260")])))  # fmt: skip
    for source, key in (("pentest", "vuln_found_by_check"), ("bulletin", "vuln_bulletin")):
        if skip != key:
            vulns.vuln_record(actor=actor, engagement=e, source=source, severity="high", title="弱口令",
                              host="10.8.1.12", reference=f"{source}-1", found_at=at(2026, 11, 20))  # fmt: skip

    supplier = OrganisationFactory(engagement=e, name="恒生电子", type=OrgType.APP_VENDOR)
    filed = {"filing": "filed", "filing_reference": "备案 2026-001", "filed_on": at(2026, 3, 1).date()}
    if skip == "suppliers_filed":
        filed = {"filing": "required"}
    suppliers.supplier_set(actor=actor, engagement=e, organisation=supplier, criticality="important",
                           substitutability="hard", **filed)  # fmt: skip

    builder = world.login_with(Role.TECH_GROUP, username="builder")
    change = changes.change_request(
        actor=builder, engagement=e, kind="modify", title="柜台升级", system_name="柜台", risk_assessment="评估",
        test_evidence="测试", rollback_plan="回退", window_start=at(2027, 1, 4, 18), window_end=at(2027, 1, 4, 21),
        notice_required=True,
    )  # fmt: skip
    tested_on = at(2026, 11, 20).date() if skip != "pressure_test_in_year" else at(2025, 6, 1).date()
    capacity.capacity_record(actor=actor, engagement=e, system_name="集中交易系统", metric="委托笔数/秒", peak=3000,
                             peak_on=at(2025, 3, 1).date(), tested=9000, tested_on=tested_on,
                             report=io.BytesIO(b"%PDF-1.4 report"), report_name="压测报告.pdf")  # fmt: skip
    inventory.system_ensure(actor=actor, engagement=e, site=hq, name="网上交易系统", category="网上交易", version="1",
                            platform="Linux")  # fmt: skip
    if skip != "pi_inventory":
        biometric = skip != "pi_biometric_assessed"
        privacy.activity_set(actor=actor, engagement=e, name="开户身份核验", purpose="核验身份", basis="法定义务",
                             categories=["identity", "biometric"] if biometric else ["identity"],
                             systems=["网上交易系统"], retention="销户后 20 年",
                             biometric_assessment="必要性与安全性评估报告" if biometric else "",
                             assessed_on=at(2026, 6, 30).date() if biometric else None)  # fmt: skip
    if skip != "change_notice_on_time":
        changes.change_notice(
            actor=builder, change=change, published_at=at(2026, 12, 1), reference="官网公告"
        )


def lines(world, user):
    return {line.duty.code: line for line in compliance_view(user=user, engagement=world.engagement, now=NOW)}


def test_the_library_holds_the_39_duties_with_their_sections_and_the_10_dengbao_families():
    assert [d.code for d in library.DUTIES] == [f"M{n:02d}" for n in range(1, 40)]
    assert all(d.section.startswith("三(") for d in library.DUTIES)
    assert len(library.DENGBAO_FAMILIES) == 10 and library.VERSION


def test_on_an_empty_engagement_every_duty_is_missing_but_the_default_not_applicable_one(world, people):
    found = lines(world, people["tech"])
    assert found["M16"].status == Status.NOT_APPLICABLE and found["M16"].reason
    assert {line.status for code, line in found.items() if code != "M16"} == {Status.MISSING}
    assert found["M26"].missing and not found["M26"].found


def test_on_a_demo_like_engagement_every_duty_with_declared_evidence_is_met(world, people):
    build(world)
    found = lines(world, people["firm_it"])
    for duty in library.DUTIES:
        if duty.evidence and not duty.default_not_applicable:
            assert found[duty.code].status == Status.MET, (duty.code, found[duty.code].missing)
    assert found["M35"].status == Status.MISSING  # nothing in Handover shows staff training by itself


@pytest.mark.parametrize("key", KEYS)
def test_each_evidence_query_finds_its_own_evidence(world, people, key):
    build(world, skip=key)
    found = lines(world, people["tech"])
    using = [d for d in library.DUTIES if key in d.evidence and not d.default_not_applicable]
    assert using
    for duty in using:
        assert found[duty.code].status in (Status.PARTLY, Status.MISSING), (key, duty.code)
        assert found[duty.code].missing


def test_a_person_links_evidence_and_marks_a_duty_not_applicable_with_a_reason(world, people):
    e = world.engagement
    compliance.evidence_link(actor=people["tech"], engagement=e, duty="m03", description="等保三级备案证明",
                             reference="备案编号 33010099999-00001")  # fmt: skip
    compliance.duty_applicability_set(actor=people["tech"], engagement=e, duty="M29", applicable=False,
                                      reason="本公司不是关键信息基础设施运营者")  # fmt: skip
    found = lines(world, people["tech"])
    assert found["M03"].status == Status.MET and found["M03"].linked[0].reference.startswith("备案编号")
    assert found["M29"].status == Status.NOT_APPLICABLE
    with pytest.raises(DomainError) as bad:
        compliance.duty_applicability_set(
            actor=people["tech"], engagement=e, duty="M30", applicable=False, reason=" "
        )
    assert bad.value.field == "reason"
    with pytest.raises(DomainError) as unknown:
        compliance.evidence_link(actor=people["tech"], engagement=e, duty="M40", description="x")
    assert unknown.value.field == "duty"


def test_the_observer_and_the_finance_post_do_not_read_the_compliance_view(world, people):
    with pytest.raises(PermissionDenied):
        compliance_view(user=people["observer"], engagement=world.engagement)


def test_the_compliance_view_reads_in_a_constant_number_of_queries(world, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            compliance_view(user=people["tech"], engagement=world.engagement, now=NOW)
        return len(queries)

    count()  # the login's grants are read once and kept
    empty = count()
    build(world)
    for number in range(20):
        compliance.evidence_link(actor=people["tech"], engagement=world.engagement, duty=f"M{number % 39 + 1:02d}",
                                 description="证据")  # fmt: skip
    assert count() == empty

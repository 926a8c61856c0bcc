"""Suppliers (三(二)五): each supplying organisation with what the registers say of it (systems, 表19/35 contracts,
表20 contacts) and what the firm recorded, and the open items an auditor would raise: an important supplier
without its 备案, a contract ending or ended, a supplier leaving without an exit plan."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import OrgType
from handover.registers import inventory
from handover.registers.models import Row
from handover.risk.models import Supplier
from handover.risk.selectors import suppliers as selectors
from handover.risk.selectors.deadlines import deadlines
from handover.risk.services import suppliers as services
from tests.factories import OrganisationFactory, register_form

TODAY = dt.date(2026, 12, 5)


@pytest.fixture
def scene(world, people):
    e = world.engagement
    vendor = OrganisationFactory(engagement=e, name="恒生电子", type=OrgType.APP_VENDOR)
    carrier = OrganisationFactory(engagement=e, name="中国电信", type=OrgType.LINE_CARRIER)
    tech = people["tech"]
    inventory.system_ensure(actor=tech, engagement=e, site=world.hq, name="集中交易系统", category="集中交易",
                            version="UF2.0", platform="Linux", vendor=vendor)  # fmt: skip
    inventory.system_ensure(actor=tech, engagement=e, site=world.hq, name="OA", category="其他", version="1",
                            platform="Windows", vendor=carrier)  # fmt: skip
    contracts = register_form(e, world.hq, 19)
    Row.objects.create(form=contracts, seq=1, data={"contract_no": "HT-001", "counterparty_org_id": vendor.pk,
                                                    "end": (TODAY + dt.timedelta(days=30)).isoformat()})  # fmt: skip
    Row.objects.create(form=contracts, seq=2, data={"contract_no": "HT-002", "counterparty_org_id": carrier.pk,
                                                    "end": (TODAY - dt.timedelta(days=3)).isoformat()})  # fmt: skip
    Row.objects.create(
        form=register_form(e, world.hq, 20), seq=1, data={"org_id": vendor.pk, "contact_name": "张工"}
    )
    Row.objects.create(form=register_form(e, world.hq, 17), seq=1,
                       data={"name": "UF2.0 交易核心", "version": "2.0.3", "vendor_org_id": vendor.pk})  # fmt: skip
    return vendor, carrier


def _lines(world, user):
    return {line.organisation.name: line for line in selectors.supplier_lines(user=user, engagement=world.engagement,
                                                                              today=TODAY)}  # fmt: skip


def _set(world, actor, org, **extra):
    values = {"criticality": "important", "substitutability": "hard", "filing": "required", **extra}
    return services.supplier_set(actor=actor, engagement=world.engagement, organisation=org, **values)


def test_the_registers_say_which_systems_contracts_and_contacts_each_supplier_has(world, people, scene):
    lines = _lines(world, people["tech"])
    vendor = lines["恒生电子"]
    assert (
        vendor.systems == ["集中交易系统"]
        and vendor.important_systems == ["集中交易系统"]
        and vendor.contacts == 1
    )
    assert [(c.number, c.ends_on) for c in vendor.contracts] == [("HT-001", TODAY + dt.timedelta(days=30))]
    assert (
        vendor.criticality == "important"
        and vendor.record is None
        and vendor.software == ["UF2.0 交易核心 2.0.3"]
    )
    assert any("集中交易系统" in item for item in vendor.items)  # important and nothing recorded
    assert any("HT-001" in item for item in vendor.items)  # ends within 60 days
    carrier = lines["中国电信"]
    assert carrier.criticality == "general" and any(
        "HT-002" in item and "ended" in item for item in carrier.items
    )
    assert "被托管证券" not in lines  # the firm itself supplies nothing


def test_an_important_supplier_is_an_open_item_until_its_filing_is_recorded_with_its_reference(
    world, people, scene
):
    vendor, _carrier = scene
    tech = people["tech"]
    _set(world, tech, vendor)
    assert any("备案" in item for item in _lines(world, tech)["恒生电子"].items)
    with pytest.raises(DomainError) as missing:
        _set(world, tech, vendor, filing="filed")
    assert missing.value.field == "filing_reference"
    with pytest.raises(DomainError) as future:
        _set(world, tech, vendor, filing="filed", filing_reference="备案号 2026-001", filed_on=clock.now().date()
             + dt.timedelta(days=2))  # fmt: skip
    assert future.value.field == "filed_on"
    _set(world, tech, vendor, filing="filed", filing_reference="证监会信息技术系统服务机构备案 2026-001",
         filed_on=dt.date(2026, 3, 1))  # fmt: skip
    assert not any("备案" in item for item in _lines(world, tech)["恒生电子"].items)
    with pytest.raises(IntegrityError), transaction.atomic():  # the database keeps the evidence too
        Supplier.objects.filter(organisation=vendor).update(filing_reference="")


def test_a_supplier_leaves_only_by_its_exit_plan_and_once_left_raises_nothing(world, people, scene):
    _vendor, carrier = scene
    tech = people["tech"]
    with pytest.raises(DomainError) as no_plan:
        _set(world, tech, carrier, criticality="general", state="exiting")
    assert no_plan.value.field == "exit_plan"
    _set(world, tech, carrier, criticality="general", state="exited", exit_plan="线路切换至联通，已验收")
    assert _lines(world, tech)["中国电信"].items == []


def test_contracts_ending_are_in_the_deadlines_while_the_supplier_serves(world, people, scene):
    found = [d for d in deadlines(user=people["tech"], engagement=world.engagement, now=clock.now())
             if d.ref.startswith("表19")]  # fmt: skip
    assert {d.ref for d in found} == {"表19 HT-001", "表19 HT-002"}


def test_only_who_manages_risk_records_and_the_observer_reads_nothing(world, people, scene):
    vendor, _carrier = scene
    with pytest.raises(PermissionDenied):
        _set(world, people["observer"], vendor)
    with pytest.raises(PermissionDenied):
        selectors.supplier_lines(user=people["observer"], engagement=world.engagement, today=TODAY)
    assert not Supplier.objects.exists()


def test_the_page_and_the_api_record_and_list_the_facts(world, people, scene, client):
    from handover.accounts.services import api_token_issue

    vendor, _carrier = scene
    code = world.engagement.code
    client.force_login(people["onsite"])
    page = reverse("risk:supplier_list", args=[code])
    answer = client.post(page, {"organisation": vendor.pk, "criticality": "important", "substitutability": "none",
                                "state": "active", "filing": "filed", "filing_reference": ""})  # fmt: skip
    assert answer.status_code == 200 and not Supplier.objects.exists()  # refused, the form says why
    answer = client.post(page, {"organisation": vendor.pk, "criticality": "important", "substitutability": "none",
                                "state": "active", "filing": "filed", "filing_reference": "备案 2026-001",
                                "filed_on": "2026-03-01"})  # fmt: skip
    assert answer.status_code == 302 and Supplier.objects.get().filing == "filed"
    token = api_token_issue(user=people["tech"])
    listed = client.get(
        f"/api/engagements/{code}/risk/suppliers/", HTTP_AUTHORIZATION=f"Token {token}"
    ).json()
    line = next(x for x in listed if x["name"] == "恒生电子")
    assert line["filing_reference"] == "备案 2026-001" and line["contracts"][0]["number"] == "HT-001"
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403

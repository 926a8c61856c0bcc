"""Investors' personal information (三(三)): the inventory of processing activities with their systems as the
registers name them, biometrics only after an assessment, processing outside the boundary only with its
measures, the systems holding investors' data that no activity names, and a leak recorded as a graded incident."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.registers import inventory
from handover.risk.models import Incident, ProcessingActivity
from handover.risk.selectors import privacy as selectors
from handover.risk.services import privacy as services
from tests.risk.conftest import at


@pytest.fixture
def systems(world, people):
    for name, category in (("网上交易系统", "网上交易"), ("集中交易系统", "集中交易"), ("办公OA", "办公")):
        inventory.system_ensure(actor=people["tech"], engagement=world.engagement, site=world.hq, name=name,
                                category=category, version="1", platform="Linux")  # fmt: skip


def _set(world, actor, **extra):
    values = {"name": "开户身份核验", "purpose": "开户时核验投资者身份", "basis": "履行法定义务（反洗钱、适当性）",
              "categories": ["identity", "contact"], "systems": ["网上交易系统"], "retention": "销户后 20 年",
              **extra}  # fmt: skip
    return services.activity_set(actor=actor, engagement=world.engagement, **values)


def test_the_inventory_names_the_systems_holding_investors_data_that_no_activity_covers(
    world, people, systems
):
    tech = people["tech"]
    assert selectors.uncovered_systems(user=tech, engagement=world.engagement) == [
        "网上交易系统",
        "集中交易系统",
    ]
    _set(world, tech)
    assert selectors.uncovered_systems(user=tech, engagement=world.engagement) == [
        "集中交易系统"
    ]  # OA holds none
    _set(world, tech, name="委托与成交", categories=["trading", "funds"], systems=["集中交易系统"])
    assert selectors.uncovered_systems(user=tech, engagement=world.engagement) == []


def test_biometrics_need_their_assessment_first_and_outside_the_boundary_its_measures(world, people, systems):
    tech = people["tech"]
    with pytest.raises(DomainError) as refused:
        _set(world, tech, categories=["identity", "biometric"])
    assert refused.value.field == "biometric_assessment"
    with pytest.raises(DomainError):
        _set(world, tech, categories=["biometric"], biometric_assessment="评估", assessed_on=clock.now().date()
             + dt.timedelta(days=3))  # fmt: skip
    _set(world, tech, categories=["identity", "biometric"], assessed_on=dt.date(2026, 6, 30),
         biometric_assessment="人脸识别必要性与安全性评估报告（2026）")  # fmt: skip
    with pytest.raises(DomainError) as outside:
        _set(world, tech, name="外包客服", outside_boundary=True)
    assert outside.value.field == "outside_measures"
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcessingActivity.objects.filter(name="开户身份核验").update(
            outside_boundary=True, outside_measures=""
        )


def test_systems_are_named_as_the_registers_name_them_and_nothing_is_half_written(world, people, systems):
    with pytest.raises(DomainError, match="网上交易") as refused:
        _set(world, people["tech"], systems=["网上交易"])
    assert refused.value.field == "systems" and not ProcessingActivity.objects.exists()
    with pytest.raises(DomainError) as categories:
        _set(world, people["tech"], categories=["dna"])
    assert categories.value.field == "categories"
    with pytest.raises(PermissionDenied):
        _set(world, people["observer"])


def test_a_leak_from_an_activity_is_an_incident_graded_by_the_records_leaked(world, people, systems):
    activity = _set(world, people["tech"])
    with clock.frozen(at(2026, 12, 5, 10, 30)):
        incident = services.activity_leak(
            actor=people["tech"], activity=activity, title="开户资料外泄", detected_at=at(2026, 12, 5, 10),
            leaked_records=120000, system_class=3,
        )  # fmt: skip
    assert incident.number == f"PI-{activity.pk}-1" and incident.system_name == "网上交易系统"
    assert incident.leaked_records == 120000 and incident.grade == "major"  # ≥ 100,000 investors' data: 重大
    assert "开户身份核验" in incident.description and incident.clocks.exists()
    assert Incident.objects.count() == 1


def test_the_page_and_the_api_record_and_list(world, people, client, systems):
    from handover.accounts.services import api_token_issue

    client.force_login(people["onsite"])
    page = reverse("risk:privacy_list", args=[world.engagement.code])
    body = {"name": "开户身份核验", "purpose": "核验", "basis": "法定义务", "categories": ["identity"],
            "systems": ["网上交易系统"], "retention": "销户后 20 年"}  # fmt: skip
    answer = client.post(page, body)
    assert answer.status_code == 302 and ProcessingActivity.objects.count() == 1
    assert "集中交易系统" in client.get(page).content.decode()  # the open item
    client.logout()
    token = api_token_issue(user=people["tech"])
    listed = client.get(
        f"/api/engagements/{world.engagement.code}/risk/privacy/", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert listed.json()["uncovered_systems"] == ["集中交易系统"]
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403


def test_backups_of_clients_data_sent_by_courier_are_open_until_marked_encrypted(world, people, client):
    from handover.registers.models import Row
    from tests.factories import register_form

    form = register_form(world.engagement, world.branch_a, 14)
    sent = Row.objects.create(form=form, seq=1, data={"data_class": "当前数据", "upload_via": "快递",
                                                      "data_name": "客户资料库", "media_no": "M-01"})  # fmt: skip
    Row.objects.create(form=form, seq=2, data={"data_class": "交易所清算文件-沪", "upload_via": "快递"})
    Row.objects.create(form=form, seq=3, data={"data_class": "当前数据", "upload_via": "内部网络"})
    media = selectors.courier_media(user=people["tech"], engagement=world.engagement)
    assert [(row.pk, mark) for row, mark in media] == [(sent.pk, None)]  # only clients' data by courier
    with pytest.raises(DomainError) as refused:
        services.media_encryption_mark(
            actor=people["tech"], engagement=world.engagement, row=sent.pk, method=" "
        )
    assert refused.value.field == "method"
    client.force_login(people["onsite"])
    client.post(reverse("risk:privacy_list", args=[world.engagement.code]),
                {"act": "media", "row": sent.pk, "method": "SM4 全盘加密，密钥另行交接"})  # fmt: skip
    ((_row, mark),) = selectors.courier_media(user=people["tech"], engagement=world.engagement)
    assert mark is not None and mark.method.startswith("SM4")

"""Records that cannot describe the impossible (plausibility.py; issue 13, ux review H3): an end before its
start, work done in the future, a count of nothing, a host of another system, a system of a sister site.
One rule set for every register and every face: the import (every register), the API and the page."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation

from handover.core.actors import system
from handover.org.models import Role
from handover.registers import catalogue, plausibility
from handover.registers.io import importing
from handover.registers.io.template import template_bytes
from handover.registers.models import Asset, Form, Row
from tests.factories import t8_values
from tests.registers.io_support import Scenery, fill_template, valid_row
from tests.registers.test_api import add_row, open_form

FUTURE = {"dt": "2099-01-01 10:00", "date": "2099-01-01"}
EARLY = {"dt": "2026-11-01 10:00", "date": "2026-11-01"}


@pytest.fixture
def scenery(world):
    return Scenery(world)


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def _column(number, key):
    return next(c for c in catalogue.columns(number) if c.key == key)


def _refused_import(scenery, number, row):
    content = fill_template(template_bytes(number), [row], {"日期": "2026-12-01"})
    before = Row.objects.count()
    with pytest.raises(importing.ImportRefused) as refused:
        importing.register_import(
            actor=system("test"),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=number,
            filename="filled.xlsx",
            content=content,
        )
    assert Row.objects.count() == before  # nothing half written
    return [(issue.column, issue.reason) for issue in refused.value.issues]


def _future_cases():
    for number in range(1, 42):
        if catalogue.get(number).computed:
            continue
        for column in catalogue.columns(number):
            if column.type in FUTURE and (number, column.key) not in plausibility.PLANNED:
                yield pytest.param(number, column.key, id=f"T{number}-{column.key}")


def _order_cases():
    for number, pairs in plausibility.ORDER.items():
        for _first, then, _strict, _article in pairs:
            yield pytest.param(number, then, id=f"T{number}-{then}")


@pytest.mark.parametrize(("number", "key"), list(_future_cases()))
def test_an_imported_row_of_work_done_in_the_future_is_refused_by_its_column(scenery, number, key):
    row = valid_row(number, scenery)
    column = _column(number, key)
    row[1 + [c.key for c in catalogue.columns(number)].index(key)] = FUTURE[column.type]
    issues = _refused_import(scenery, number, row)
    assert any(label == column.zh and "2099-01-01" in message for label, message in issues), issues


@pytest.mark.parametrize(("number", "key"), list(_order_cases()))
def test_an_imported_row_whose_end_comes_before_its_start_is_refused_by_its_column(scenery, number, key):
    row = valid_row(number, scenery)
    column = _column(number, key)
    row[1 + [c.key for c in catalogue.columns(number)].index(key)] = EARLY[column.type]
    issues = _refused_import(scenery, number, row)
    assert any(label == column.zh and f"表{number}" in message for label, message in issues), issues


def test_the_api_refuses_the_backup_of_review_h3_by_column_and_writes_nothing(world):
    """H3: 结束 before 开始, 份数 0, a host of another system, a backup dated in the future."""
    user = world.login_with(Role.FIRM_IT, site=world.branch_a)
    form = open_form(world, user)
    values = t8_values(world.engagement, world.branch_a)
    other = t8_values(world.engagement, world.branch_a, name="行情系统")
    Asset.objects.get(pk=values["asset_id"]).systems.add(values["system_id"])
    attacks = {
        "ended_at": {"started_at": "2026-12-01T10:30", "ended_at": "2026-12-01T10:00"},
        "copies": {"copies": 0},
        "asset_id": {"system_id": other["system_id"]},
        "started_at": {"started_at": "2099-12-05T10:30", "ended_at": "2099-12-05T11:00"},
    }
    for field, attack in attacks.items():
        response = add_row(world, user, form["id"], **attack)
        assert response.status_code == 400, (field, response.content)
        body = response.json()
        assert field in str(body) and "表8" in str(body), (field, body)
    assert not Row.objects.exists()
    assert add_row(world, user, form["id"]).status_code == 201  # the honest row goes in


def test_the_page_refuses_a_machine_reconnected_before_its_offline_scan_ended(client, scenery):
    """第二十六条第8项: 对每台机器进行断网病毒查杀后方可恢复网络连接."""
    world = scenery.world
    user = world.login_with(Role.FIRM_IT, site=world.branch_a)
    form = Form.objects.get(form_no="REF-T22")
    data = {
        "asset_id": scenery.asset.pk,
        "system_id": scenery.system.pk,
        "site_id": world.branch_a.pk,
        "patched": "是",
        "av_product": "杀毒",
        "av_signature_ver": "20261201",
        "disconnected_at": "2026-12-01T20:00",
        "scan_start": "2026-12-01T20:05",
        "scan_end": "2026-12-01T21:00",
        "reconnected_at": "2026-12-01T20:30",
        "infections": "0",
        "outcome": "无感染",
        "run_check": "正常",
    }
    client.force_login(user)
    url = reverse("registers:row_create", args=[world.engagement.code, form.pk])
    response = client.post(url, data)
    body = response.content.decode()
    assert response.status_code == 200 and "恢复联网" in body and "第二十六条第8项" in body
    assert form.rows.count() == 1  # only the reference row of the scenery
    response = client.post(url, {**data, "reconnected_at": "2026-12-01T21:10"})
    assert response.status_code == 302 and form.rows.count() == 2


def test_a_template_row_in_the_future_names_its_row_in_the_sheet(scenery):
    row = valid_row(8, scenery)
    row[1 + [c.key for c in catalogue.columns(8)].index("ended_at")] = "2099-01-01 10:00"
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(8)))
    header_row = next(r for r in range(1, 10) if book.worksheets[0].cell(r, 1).value == "序号")
    content = fill_template(template_bytes(8), [valid_row(8, scenery), row], {"日期": "2026-12-01"})
    with pytest.raises(importing.ImportRefused) as refused:
        importing.register_import(
            actor=system("test"),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=8,
            filename="filled.xlsx",
            content=content,
        )
    assert [issue.row for issue in refused.value.issues] == [header_row + 2]

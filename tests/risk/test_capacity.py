"""Capacity and pressure tests (三(二)四): the latest test of each important system against its historical peak,
flagged below the minimum ratio or when older than a year, recorded with its report, kept five years."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.registers import inventory
from handover.risk.models import CapacityRecord
from handover.risk.selectors import capacity as selectors
from handover.risk.services import capacity as services
from handover.workflow import storage
from tests.risk.conftest import at

TODAY = dt.date(2026, 12, 5)
REPORT = b"%PDF-1.4\n% pressure test report\n"


@pytest.fixture
def trading(world, people):
    return inventory.system_ensure(
        actor=people["tech"], engagement=world.engagement, site=world.hq, name="集中交易系统", category="集中交易",
        version="UF2.0", platform="Linux",
    )  # fmt: skip


def _record(world, actor, system=None, tested=9000, tested_on=dt.date(2026, 11, 20), **extra):
    return services.capacity_record(
        actor=actor, engagement=world.engagement, system=system, metric="委托笔数/秒", peak=3000,
        peak_on=dt.date(2026, 3, 2), tested=tested, tested_on=tested_on, report=io.BytesIO(REPORT),
        report_name="压力测试报告.pdf", **extra,
    )  # fmt: skip


def _lines(world, user):
    return {line.system_name: line for line in selectors.capacity_lines(user=user, engagement=world.engagement,
                                                                        today=TODAY)}  # fmt: skip


def test_an_important_system_without_a_test_is_open_and_a_test_below_the_minimum_ratio_is_flagged(world, people,
                                                                                                 trading):  # fmt: skip
    tech = people["tech"]
    assert "12 months" in _lines(world, tech)["集中交易系统"].items[0]
    _record(world, tech, trading, tested=4500)  # 1.5× the peak
    line = _lines(world, tech)["集中交易系统"]
    assert line.ratio == 1.5 and len(line.items) == 1 and "1.50×" in line.items[0]
    _record(world, tech, trading, tested=9000, tested_on=dt.date(2026, 11, 30))  # the latest counts: 3×
    assert _lines(world, tech)["集中交易系统"].items == ()
    with storage.open_verified(CapacityRecord.objects.first().report_sha256, "r") as kept:
        assert kept.read() == REPORT


def test_a_test_is_kept_five_years_and_the_refusal_names_the_date(world, people, trading):
    record = _record(world, people["tech"], trading, tested_on=dt.date(2024, 2, 29))
    assert record.retain_until == dt.date(2029, 2, 28)
    with pytest.raises(DomainError, match="2029-02-28"):
        services.capacity_delete(actor=people["tech"], record=record)
    assert CapacityRecord.objects.count() == 1
    with clock.frozen(at(2029, 3, 1)):
        services.capacity_delete(actor=people["tech"], record=record)
    assert not CapacityRecord.objects.exists()


def test_bad_values_are_refused_by_field_and_nothing_is_stored(world, people, trading):
    for field, extra in (("peak", {"peak": 0}), ("tested", {"tested": "abc"}),
                         ("tested_on", {"tested_on": clock.now().date() + dt.timedelta(days=1)})):  # fmt: skip
        with pytest.raises(DomainError) as refused:
            values = {"tested_on": dt.date(2026, 11, 20), **extra}
            services.capacity_record(actor=people["tech"], engagement=world.engagement, system=trading,
                                     metric="TPS", peak=values.pop("peak", 3000), peak_on=dt.date(2026, 3, 2),
                                     tested=values.pop("tested", 9000), tested_on=values["tested_on"],
                                     report=io.BytesIO(REPORT), report_name="r.pdf")  # fmt: skip
        assert refused.value.field == field
    with pytest.raises(PermissionDenied):
        _record(world, people["observer"], trading)
    assert not CapacityRecord.objects.exists()


def test_the_page_records_with_the_report_and_refuses_an_early_deletion(world, people, client, trading):
    client.force_login(people["onsite"])
    page = reverse("risk:capacity_list", args=[world.engagement.code])
    answer = client.post(page, {"act": "record", "system": trading.pk, "metric": "委托笔数/秒", "peak": "3000",
                                "peak_on": "2026-03-02", "tested": "9000", "tested_on": "2026-11-20",
                                "report": SimpleUploadedFile("压测.pdf", REPORT)})  # fmt: skip
    assert answer.status_code == 302
    record = CapacityRecord.objects.get()
    answer = client.post(page, {"act": "delete", "record": record.pk}, follow=True)
    assert record.retain_until.isoformat() in answer.content.decode() and CapacityRecord.objects.exists()
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403

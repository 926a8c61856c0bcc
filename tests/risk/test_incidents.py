"""Incidents: grading by the cited rules (boundaries, a deployment's file), reporting clocks as absolute
deadlines on the exchange calendar, and the worker that escalates a deadline passed while it was stopped."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from handover.audit.models import Event
from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.notifications.models import Notification
from handover.risk import events, rules, tasks
from handover.risk.models import ClockKind, Incident, ReportClock, TimelineEntry
from handover.risk.services import incidents
from tests.risk.conftest import at


@pytest.mark.parametrize(
    ("klass", "minutes", "pct", "leaked", "grade"),
    [
        (5, 120, 30, 0, "extreme"),
        (5, 119, 30, 0, "major"),  # one minute short of 特别重大: 重大 (class ≥ 4, ≥ 60 min, ≥ 10 %)
        (4, 60, 10, 0, "major"),
        (4, 60, Decimal("9.99"), 0, "large"),
        (3, 5, 0, 0, "large"),  # 2012 第十二条(四): 5 minutes of trading time
        (3, 4, 0, 0, "general"),
        (2, 600, 100, 0, "general"),  # a class-2 system never reaches 较大 by outage alone
        (1, 0, 0, 1_000_000, "extreme"),
        (1, 0, 0, 999_999, "major"),
        (1, 0, 0, 100_000, "major"),  # 2012: 10万人以上的投资者数据发生泄露
        (1, 0, 0, 99_999, "large"),
        (1, 0, 0, 10_000, "large"),
        (1, 0, 0, 9_999, "general"),
    ],
)
def test_the_default_grading_table_with_its_boundaries(klass, minutes, pct, leaked, grade):
    rule = rules.grade_of(rules.DEFAULT, system_class=klass, minutes=minutes, pct=Decimal(pct), leaked=leaked)
    assert rule.grade == grade and rule.source


def test_the_defaults_say_they_are_not_verified_and_name_their_source():
    assert rules.DEFAULT.verified is False and "〔2021〕12号" in rules.DEFAULT.source


@pytest.fixture
def rules_file(tmp_path, settings):
    def write(content: str) -> str:
        path = tmp_path / "grading.json"
        path.write_text(content, encoding="utf-8")
        settings.HANDOVER_RISK_GRADING_FILE = str(path)
        rules._load.cache_clear()
        return str(path)

    yield write
    rules._load.cache_clear()


def test_a_deployment_replaces_the_grading_with_its_own_cited_file(rules_file):
    rule = {"grade": "major", "min_class": 3, "minutes": 1, "source": "附件1-2 第3行"}
    rules_file(
        json.dumps({"version": "部署-2027.1", "source": "附件1-2 原文", "verified": True, "grading": [rule]})
    )
    current = rules.current()
    assert current.version == "部署-2027.1" and current.verified
    rule = rules.grade_of(current, system_class=3, minutes=1, pct=Decimal(0), leaked=0)
    assert (rule.grade, rule.source) == ("major", "附件1-2 第3行")
    assert current.clocks == rules.DEFAULT.clocks  # what the file leaves out keeps the default


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("{not json", "line 1"),
        (json.dumps({"version": "x"}), "version"),
        (json.dumps({"version": "x", "source": "y", "grading": [{"grade": "huge", "source": "z"}]}), "grading[1]"),
        (json.dumps({"version": "x", "source": "y", "matrix": {"names": ["低", "高"], "levels": [[2, 1], [2, 2]]}}),
         "matrix"),
    ],
)  # fmt: skip
def test_a_bad_rules_file_is_refused_with_its_name_and_the_place(rules_file, content, where):
    path = rules_file(content)
    with pytest.raises(DomainError) as refused:
        rules.current()
    assert path in str(refused.value) and where in str(refused.value)


def _open(world, actor, **extra):
    values = {"number": "INC-1", "title": "集中交易系统中断", "system_name": "集中交易系统", "system_class": 5,
              "trading_system": True, "detected_at": at(2026, 12, 9, 10), "down_minutes": 20}  # fmt: skip
    with clock.frozen(extra.pop("now", at(2026, 12, 9, 10, 5))):
        return incidents.incident_open(actor=actor, engagement=world.engagement, **{**values, **extra})


def test_an_incident_is_graded_and_its_clocks_are_absolute_deadlines(world, people):
    incident = _open(world, people["firm_it"])
    assert incident.grade == "large" and incident.grading_version == rules.DEFAULT.version
    due = {(c.kind, c.seq): c.due_at for c in incident.clocks.all()}
    assert due == {
        (ClockKind.IMMEDIATE, 1): at(2026, 12, 9, 11),
        (ClockKind.WRITTEN, 1): at(2026, 12, 10, 10),
        (ClockKind.UPDATE, 1): at(2026, 12, 9, 10, 30),
        (ClockKind.INVESTIGATION, 1): at(2026, 12, 16, 17),  # 5 trading days after Wednesday 9 December
    }
    kinds = list(TimelineEntry.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds == ["detected", "graded"]
    assert Event.objects.filter(action=events.INCIDENT_OPEN, object_id=str(incident.pk)).count() == 1


@pytest.mark.parametrize(
    ("detected", "due"),
    [
        (
            at(2026, 9, 30, 10),
            at(2026, 10, 14, 17),
        ),  # 国庆 1–7 Oct; Saturday 10 Oct is a make-up day, no trading
        (at(2026, 2, 13, 10), at(2026, 3, 2, 17)),  # 春节; Saturday 28 Feb is a make-up day, no trading
        (at(2026, 12, 11, 23, 30), at(2026, 12, 18, 17)),  # a Friday night: the weekend does not count
    ],
)
def test_the_investigation_report_is_due_in_working_days_that_skip_holidays(world, people, detected, due):
    incident = _open(world, people["tech"], detected_at=detected, now=detected + dt.timedelta(minutes=1))
    assert incident.clocks.get(kind=ClockKind.INVESTIGATION).due_at == due


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"system_class": 7}, "system_class"),
        ({"system_class": "五类"}, "system_class"),
        ({"detected_at": at(2026, 12, 9, 11)}, "detected_at"),  # after "now"
        ({"affected_pct": 120}, "affected_pct"),
        ({"down_minutes": -1}, "down_minutes"),
        ({"title": "  "}, "title"),
        ({"t39_row": 999_999}, "t39_row"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(world, people, extra, field):
    with pytest.raises(DomainError) as refused:
        _open(world, people["tech"], **extra)
    assert refused.value.field == field
    assert not Incident.objects.exists() and not ReportClock.objects.exists()


def test_a_second_incident_with_the_same_number_writes_nothing(world, people):
    _open(world, people["tech"])
    with pytest.raises(DomainError) as refused:
        _open(world, people["tech"])
    assert refused.value.field == "number" and ReportClock.objects.count() == 4


def test_the_observer_cannot_record_an_incident(world, people):
    with pytest.raises(PermissionDenied):
        _open(world, people["observer"])


def test_a_clock_that_passed_while_the_worker_was_stopped_is_escalated_at_its_next_start(world, people):
    incident = _open(world, people["firm_it"], trading_system=False)
    Notification.objects.all().delete()  # the grading notice
    with clock.frozen(
        at(2026, 12, 9, 11, 30)
    ):  # the worker was down from 10:05 to 11:30; immediate was due at 11
        counts = tasks.worker_start(clock.now())
    assert counts["escalated"] == 1
    immediate = incident.clocks.get(kind=ClockKind.IMMEDIATE)
    assert immediate.escalated_at == at(2026, 12, 9, 11, 30) and immediate.done_at is None
    told = dict(Notification.objects.values_list("person__user__username", "title"))
    assert (
        set(told) == {"tech", "tech2", "observer"} and "INC-1" in told["tech"]
    )  # 技术组 and the working group
    assert Event.objects.filter(action=events.CLOCK_OVERDUE).count() == 1
    with clock.frozen(at(2026, 12, 9, 11, 35)):  # a second start, or the scheduled run: nothing twice
        assert tasks.worker_start(clock.now())["escalated"] == 0
    assert Event.objects.filter(action=events.CLOCK_OVERDUE).count() == 1


def test_a_clock_about_to_fall_due_is_reminded_once(world, people):
    incident = _open(world, people["tech"], trading_system=False)
    with clock.frozen(at(2026, 12, 9, 10, 40)):
        assert tasks.check_now(clock.now()) == {
            "reminded": 1,
            "escalated": 0,
            "drills_planned": 0,
            "drills": 0,
        }
        assert tasks.check_now(clock.now()) == {
            "reminded": 0,
            "escalated": 0,
            "drills_planned": 0,
            "drills": 0,
        }
    assert incident.clocks.get(kind=ClockKind.IMMEDIATE).reminded_at is not None


def test_every_update_missed_while_the_trading_system_stayed_down_is_escalated_then_restoration_ends_them(
    world, people
):
    incident = _open(world, people["tech"])
    with clock.frozen(at(2026, 12, 9, 12, 45)):
        tasks.worker_start(clock.now())
    updates = incident.clocks.filter(kind=ClockKind.UPDATE).order_by("seq")
    assert [(c.due_at, c.escalated_at is not None) for c in updates] == [
        (at(2026, 12, 9, 10, 30), True),
        (at(2026, 12, 9, 11, 30), True),
        (at(2026, 12, 9, 12, 30), True),
        (at(2026, 12, 9, 13, 30), False),
    ]
    assert (
        Event.objects.filter(action=events.CLOCK_OVERDUE).count() == 4
    )  # three updates and the immediate report
    with clock.frozen(at(2026, 12, 9, 12, 50)):
        incidents.incident_restore(actor=people["tech"], incident=incident, at=at(2026, 12, 9, 12, 48))
    assert updates.get(seq=4).cancelled_at is not None
    with clock.frozen(at(2026, 12, 9, 14)):
        assert tasks.check_now(clock.now())["escalated"] == 0


def test_a_report_done_stops_its_clock_and_a_late_one_says_so(world, people):
    incident = _open(world, people["tech"], trading_system=False)
    with clock.frozen(at(2026, 12, 9, 11, 20)):
        made = incidents.incident_report_record(actor=people["tech"], incident=incident, kind=ClockKind.IMMEDIATE,
                                                text="电话报告浙江证监局")  # fmt: skip
        assert tasks.check_now(clock.now())["escalated"] == 0
    assert made.done_at == at(2026, 12, 9, 11, 20)
    assert ", late: " in incident.timeline.get(kind="report").text
    with pytest.raises(DomainError) as again, clock.frozen(at(2026, 12, 9, 11, 25)):
        incidents.incident_report_record(actor=people["tech"], incident=incident, kind=ClockKind.IMMEDIATE,
                                         text="再次")  # fmt: skip
    assert again.value.field == "kind"


def test_regrading_when_the_leak_is_counted(world, people):
    incident = _open(world, people["tech"], trading_system=False, down_minutes=0, system_class=2)
    assert incident.grade == "general"
    with clock.frozen(at(2026, 12, 9, 12)):
        incidents.incident_regrade(actor=people["tech"], incident=incident, down_minutes=0, affected_pct=0,
                                   leaked_records=150_000)  # fmt: skip
    incident.refresh_from_db()
    assert incident.grade == "major" and "10万人" in incident.grade_rule


def test_notices_and_register_links_stay_inside_the_engagement(world, people):
    from tests.factories import register_form

    incident = _open(world, people["tech"], trading_system=False)
    other = register_form(world.engagement, world.hq, 39)
    from handover.registers.models import Row

    row39 = Row.objects.create(form=other, seq=1, data={})
    incidents.incident_rows_link(actor=people["tech"], incident=incident, t39_row=row39.pk)
    with pytest.raises(DomainError) as wrong:
        incidents.incident_rows_link(actor=people["tech"], incident=incident, t40_row=row39.pk)  # a 表39 row
    assert wrong.value.field == "t40_row"
    with clock.frozen(at(2026, 12, 9, 12)):
        incidents.incident_notice_record(actor=people["tech"], incident=incident, party="合作银行", channel="传真",
                                         notified_at=at(2026, 12, 9, 11), summary="银证转账暂停")  # fmt: skip
    assert incident.notices.count() == 1 and incident.timeline.filter(kind="notice").exists()


def test_the_report_is_a_word_file_in_chinese_filled_from_the_incident(world, people):
    import io

    from docx import Document

    incident = _open(world, people["tech"])
    with clock.frozen(at(2026, 12, 9, 12)):
        incidents.incident_notice_record(actor=people["tech"], incident=incident, party="上海证券交易所",
                                         channel="电话", notified_at=at(2026, 12, 9, 10, 20),
                                         summary="集中交易中断")  # fmt: skip
    content = incidents.incident_report_export(actor=people["tech"], incident=incident)
    document = Document(io.BytesIO(content))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert "网络安全事件情况报告书" in text and "上海证券交易所（电话）" in text
    assert cells["事件级别"] == "较大" and cells["涉及信息系统"] == "集中交易系统（五类系统）"
    assert "调查报告（第1次）：应于 2026-12-16 17:00 前；未报告" in text
    assert "尚未据原文核对" in text  # the unverified defaults say so on the paper too
    assert world.engagement.firm_name in text  # 技术组 may see the firm's name (第十一条)
    assert Event.objects.filter(action=events.INCIDENT_EXPORT).count() == 1


def test_an_incident_beyond_the_holiday_data_is_recorded_with_weekdays_and_a_warning(world, people):
    incident = _open(world, people["tech"], detected_at=at(2027, 1, 8, 10), now=at(2027, 1, 8, 10, 5))
    investigation = incident.clocks.get(kind=ClockKind.INVESTIGATION)
    assert investigation.due_at == at(2027, 1, 15, 17)  # Friday 8 January + 5 weekdays
    assert "Monday to Friday only" in investigation.basis
    assert incident.timeline.filter(kind="note", text__contains="2027").exists()

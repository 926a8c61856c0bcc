"""The 稳定期 routine: duty roster, 表41 drafted from the day's 表29/30/37/39 rows, and reminders from 表27,
表28, 表35 and 表40."""

from __future__ import annotations

import datetime as dt

import pytest

from handover.audit.models import Event
from handover.core import clock
from handover.core.actors import system
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Engagement, Person, Phase
from handover.registers.models import Form
from handover.workflow import routine, tasks
from handover.workflow.services import stabilisation
from tests.workflow.conftest import at, source_row

DAY = dt.date(2026, 12, 10)


@pytest.fixture
def stable(world):
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.STABILISATION)
    world.engagement.refresh_from_db()
    return world


def on_duty(world, people, site=None):
    person = Person.objects.get(user=people["onsite"])
    return stabilisation.duty_assign(
        actor=people["onsite"], site=site or world.branch_a, day=DAY, person=person
    )


def test_the_duty_roster_is_planned_at_the_posts_sites(stable, people):
    shift = on_duty(stable, people)
    assert Event.objects.filter(action="workflow.duty.assign", object_id=str(shift.pk)).exists()
    with pytest.raises(DomainError, match="already"):
        on_duty(stable, people)
    person = Person.objects.get(user=people["onsite_b"])
    with pytest.raises(PermissionDenied):
        stabilisation.duty_assign(actor=people["onsite"], site=stable.branch_b, day=DAY, person=person)
    stabilisation.duty_remove(actor=people["tech"], shift=shift)
    assert not stable.branch_a.duty_shifts.exists()


def test_table41_is_drafted_from_the_days_backups_maintenance_and_risks(stable, people):
    e, a = stable.engagement, stable.branch_a
    backups = [
        source_row(e, a, 29, trade_date=DAY.isoformat(), integrity="通过", readability="通过"),
        source_row(e, a, 29, trade_date=DAY.isoformat(), integrity="不通过", readability="通过"),
    ]
    source_row(e, a, 29, trade_date="2026-12-09", integrity="不通过", readability="通过")
    source_row(e, stable.branch_b, 29, trade_date=DAY.isoformat(), integrity="不通过", readability="通过")
    upkeep = [source_row(e, a, 30, date=DAY.isoformat()), source_row(e, a, 37, done_at=f"{DAY}T20:15")]
    risk = source_row(e, a, 39, found_at=f"{DAY}T10:00", state="处理中")
    with pytest.raises(DomainError, match="duty roster"):
        stabilisation.daily_report_draft(actor=people["onsite"], site=a, day=DAY)
    on_duty(stable, people)
    form = stabilisation.daily_report_draft(actor=people["onsite"], site=a, day=DAY)
    rows = {r.data["item"]: r.data for r in form.rows.all()}
    assert rows["数据备份"]["status"] == "异常" and set(rows["数据备份"]["refs"]) == {r.pk for r in backups}
    assert "1" in rows["数据备份"]["detail"]
    assert rows["维护变更"]["status"] == "正常" and set(rows["维护变更"]["refs"]) == {r.pk for r in upkeep}
    assert rows["故障风险"]["status"] == "异常" and rows["故障风险"]["refs"] == [risk.pk]
    assert form.header["is_trading_day"] is True and form.state == "draft"
    with pytest.raises(DomainError, match="exists"):
        stabilisation.daily_report_draft(actor=people["onsite"], site=a, day=DAY)


def test_no_daily_report_outside_the_stabilisation(world, people):
    with pytest.raises(DomainError, match="stabilisation"):
        stabilisation.daily_report_draft(actor=people["tech"], site=world.branch_a, day=DAY)


def test_the_evening_task_drafts_where_someone_is_on_duty(stable, people):
    on_duty(stable, people)
    with clock.frozen(at(10, 17, 30)):
        assert tasks.daily_reports_scheduled() == {"drafted": 1}
        assert tasks.daily_reports_scheduled() == {"drafted": 0}
    assert Form.objects.get(register_no=41).site == stable.branch_a
    assert stabilisation.daily_reports_draft_all(actor=system("t"), day=DAY + dt.timedelta(days=1)) == 0


def test_reminders_for_passwords_reviews_renewals_and_late_capa(stable, people):
    e, a = stable.engagement, stable.branch_a
    today = DAY
    source_row(e, a, 27, next_due_on="2026-12-15")  # within the week
    source_row(e, a, 27, next_due_on="2027-03-01")  # not yet
    source_row(e, a, 35, renewal_alert_on="2026-12-01", performance="履行中", end="2027-01-31")
    source_row(e, a, 35, end="2026-12-31", performance="履行中")  # ends within 30 days
    source_row(e, a, 35, end="2026-12-31", performance="终止")
    source_row(e, a, 40, due_on="2026-12-05", closed=False)
    source_row(e, a, 40, due_on="2026-12-05", closed=True)
    source_row(e, a, 28, change_type="定期检查调整", done_at="2026-08-01T10:00")
    source_row(e, stable.branch_b, 40, due_on="2026-12-01", closed=False)
    found = routine.reminders(user=people["onsite"], engagement=e, today=today)
    assert [(r.register_no, r.due.isoformat()) for r in found] == [
        (28, "2026-10-30"),  # 90 days after the last periodic check
        (35, "2026-12-01"),
        (40, "2026-12-05"),
        (27, "2026-12-15"),
        (35, "2026-12-31"),
    ]
    assert all(r.site == a for r in found)
    assert {r.register_no for r in found if r.overdue} == {35, 40, 28}
    assert len(routine.reminders(user=people["tech"], engagement=e, today=today)) == 6


def test_the_stabilisation_page_the_roster_form_and_the_draft_button(stable, people, client):
    code, a = stable.engagement.code, stable.branch_a
    source_row(stable.engagement, a, 40, due_on="2026-12-05", closed=False)
    client.force_login(people["onsite"])
    person = Person.objects.get(user=people["onsite"])
    with clock.frozen(at(10, 16)):
        response = client.post(f"/w/{code}/duty/", {"site": a.pk, "day": "2026-12-10", "person": person.pk})
        assert response.status_code == 302
        assert (
            client.post(
                f"/w/{code}/duty/", {"site": stable.branch_b.pk, "day": "2026-12-10", "person": person.pk}
            ).status_code
            == 400
        )
        page = client.get(f"/w/{code}/stabilisation/").content.decode()
        assert "表40" in page and person.name in page
        assert client.post(f"/w/{code}/sites/{a.pk}/daily-report/").status_code == 302
    assert Form.objects.filter(register_no=41, site=a, form_date=DAY).exists()


def test_the_morning_task_tells_each_sites_subscribers_what_falls_due(stable, people):
    from handover.notifications import services as notifications
    from handover.notifications.models import Channel, Notification
    from handover.workflow import topics as Topic

    source_row(stable.engagement, stable.branch_a, 40, due_on="2026-12-05", closed=False)
    source_row(stable.engagement, stable.branch_b, 27, next_due_on="2026-12-11")
    for who in ("onsite", "onsite_b", "observer"):
        notifications.subscription_set(
            actor=people[who], engagement=stable.engagement, topic=Topic.REMINDER, channel=Channel.IN_APP
        )
    with clock.frozen(at(10, 8, 30)):
        assert tasks.reminders_scheduled() == {"sites": 2}
    reminders = Notification.objects.filter(topic=Topic.REMINDER)
    mine = reminders.get(person__user=people["onsite"])
    assert "甲营业部" in mine.title and "表40" in mine.body
    assert "表27" in reminders.get(person__user=people["onsite_b"]).body
    observed = reminders.filter(person__user=people["observer"])
    assert observed.count() == 2 and all("营业部" not in n.title and not n.body for n in observed)

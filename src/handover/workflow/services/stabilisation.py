"""The 稳定期 routine's writes (第二十九~三十六条): the duty roster, the daily report 表41 drafted from the day's
表29, 表30, 表37 and 表39 rows, and telling subscribers what falls due. What falls due is read in routine.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor, actor_user
from handover.core.calendar import is_trading_day
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Phase, Site
from handover.org.selectors import require
from handover.registers import catalogue
from handover.registers import services as registers
from handover.registers.models import Form, Row
from handover.workflow import events
from handover.workflow.models import DutyShift
from handover.workflow.routine import Reminder, reminders


def _current_rows(
    engagement: Engagement, register_no: int, sites: QuerySet[Site] | None = None
) -> QuerySet[Row]:
    rows = Row.objects.filter(
        form__engagement=engagement, form__register_no=register_no, form__is_current=True, is_current=True
    ).select_related("form__site")
    return rows.filter(form__site__in=sites) if sites is not None else rows


# Duty roster -----------------------------------------------------------------------------------------


def duty_assign(
    *, actor: Actor, site: Site, day: dt.date, person: Person, now: dt.datetime | None = None
) -> DutyShift:
    """Put ``person`` on duty at ``site`` on ``day``; 技术组 or the site's 现场技术岗位 plans the roster."""
    require(user=actor, engagement=site.engagement, capability=perms.MANAGE_DUTY, site=site)
    if person.engagement_id != site.engagement_id or not person.is_active:
        raise DomainError(_("Choose an active person of this engagement."), field="person")
    if DutyShift.objects.filter(site=site, day=day, person=person).exists():
        raise DomainError(_("%(name)s is on duty that day already.") % {"name": person.name}, field="person")
    with transaction.atomic():
        shift = DutyShift.objects.create(
            engagement=site.engagement,
            site=site,
            day=day,
            person=person,
            assigned_by=actor_user(actor),
            assigned_at=clock.or_now(now),
        )
        event_record(
            actor=actor,
            action=events.DUTY_ASSIGN,
            engagement_id=site.engagement_id,
            site_id=site.pk,
            obj=shift,
            after={"day": day, "person": person.pk},
        )
    return shift


def duty_remove(*, actor: Actor, shift: DutyShift) -> None:
    """Take a person off the roster (before the day; the trail keeps that they were on it)."""
    require(user=actor, engagement=shift.engagement, capability=perms.MANAGE_DUTY, site=shift.site)
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.DUTY_REMOVE,
            engagement_id=shift.engagement_id,
            site_id=shift.site_id,
            obj=shift,
            before={"day": shift.day, "person": shift.person_id},
        )
        shift.delete()


# The daily report 表41 ------------------------------------------------------------------------------


def _item(item: str, rows: list[Row], failed: list[Row], on_duty: list[int], detail: str) -> dict[str, Any]:
    status = "不适用" if not rows else "异常" if failed else "正常"
    data: dict[str, Any] = {"item": item, "status": status, "refs": [r.pk for r in rows], "on_duty": on_duty}
    if failed:
        data["detail"] = detail
    return data


def _day_rows(engagement: Engagement, site: Site, day: dt.date) -> dict[int, list[Row]]:
    iso = day.isoformat()
    filters = {
        29: Q(data__trade_date=iso),
        30: Q(data__date=iso),
        37: Q(data__done_at__startswith=iso),
        39: Q(data__found_at__startswith=iso),
    }
    rows: dict[int, list[Row]] = {}
    for number, condition in filters.items():
        rows[number] = list(_current_rows(engagement, number).filter(condition, form__site=site))
    return rows


def report_items(
    engagement: Engagement, site: Site, day: dt.date, on_duty: list[int]
) -> list[dict[str, Any]]:
    """The 表41 rows for the day: backups (表29), maintenance (表30, 表37) and faults and risks (表39)."""
    rows = _day_rows(engagement, site, day)
    backups_failed = [r for r in rows[29] if "不通过" in (r.data.get("integrity"), r.data.get("readability"))]
    open_risks = [r for r in rows[39] if r.data.get("state") != "已关闭"]
    return [
        _item(
            "数据备份",
            rows[29],
            backups_failed,
            on_duty,
            _("%(n)d backups failed the integrity or readability check (表29).") % {"n": len(backups_failed)},
        ),
        _item("维护变更", rows[30] + rows[37], [], on_duty, ""),
        _item(
            "故障风险",
            rows[39],
            open_risks,
            on_duty,
            _("%(n)d faults or risks still open (表39).") % {"n": len(open_risks)},
        ),
    ]


def daily_report_draft(*, actor: Actor, site: Site, day: dt.date) -> Form:
    """Draft 表41 for ``site`` and ``day`` from that day's registers, for the person on duty to check and
    submit to 技术组 (第十条 报告制, 第三十一条第8项). Once per site and day."""
    engagement = site.engagement
    if engagement.phase != Phase.STABILISATION:
        raise DomainError(_("The daily report 表41 belongs to the stabilisation."), field="day")
    if Form.objects.filter(
        engagement=engagement, site=site, register_no=catalogue.DAILY_REPORT, form_date=day, is_current=True
    ).exists():
        raise DomainError(_("表41 of %(day)s exists already for this site.") % {"day": day}, field="day")
    on_duty = list(DutyShift.objects.filter(site=site, day=day).values_list("person_id", flat=True))
    if not on_duty:
        raise DomainError(
            _("Nobody is on the duty roster of %(site)s for %(day)s: 表41 names who was on duty.")
            % {"site": site.name, "day": day},
            field="day",
        )
    with transaction.atomic():
        form = registers.form_create(
            actor=actor,
            engagement=engagement,
            site=site,
            register_no=catalogue.DAILY_REPORT,
            form_date=day,
            header={"is_trading_day": is_trading_day(day)},
        )
        for data in report_items(engagement, site, day, on_duty):
            registers.row_add(actor=actor, form=form, data=data)
    return form


def daily_reports_draft_all(*, actor: Actor, day: dt.date) -> int:
    """Draft today's 表41 wherever someone is on duty and none exists yet (the evening task)."""
    made = 0
    shifts = DutyShift.objects.filter(day=day, engagement__phase=Phase.STABILISATION).select_related(
        "site__engagement"
    )
    for site in {shift.site for shift in shifts}:
        if not Form.objects.filter(
            site=site, register_no=catalogue.DAILY_REPORT, form_date=day, is_current=True
        ).exists():
            daily_report_draft(actor=actor, site=site, day=day)
            made += 1
    return made


def reminders_notify(*, engagement: Engagement, today: dt.date) -> int:
    """Tell each site's post (and subscribers) what falls due there (the morning task); returns the sites told."""
    from collections import defaultdict

    from handover.core.actors import system
    from handover.notifications.links import Link
    from handover.notifications.services import notify
    from handover.workflow import topics

    by_site: dict[int, list[Reminder]] = defaultdict(list)
    for reminder in reminders(user=system("reminders"), engagement=engagement, today=today):
        by_site[reminder.site_id].append(reminder)
    with transaction.atomic():
        for items in by_site.values():
            site = items[0].site
            assert site is not None  # reminders() places each reminder at its site
            notify(
                engagement=engagement,
                topic=topics.REMINDER,
                site=site,
                title=_("%(site)s: %(n)d items fall due") % {"site": site.name, "n": len(items)},
                body="\n".join(f"{r.due:%Y-%m-%d} {r.text} {r.form_no} #{r.seq}" for r in items),
                link=Link("workflow:stabilisation", code=engagement.code),
                summary_title=_("%(n)d items fall due at a site") % {"n": len(items)},
            )
    return len(by_site)

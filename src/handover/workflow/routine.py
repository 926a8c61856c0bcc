"""The 稳定期 routine as reads (第二十九~三十六条): what falls due (表27 password changes, 表28 permission reviews,
表35 contract renewals, 表40 corrective actions past their date), the last trading day, and whose daily report
表41 is missing. ``state`` derives the 稳定期 steps from these (a lapsed routine makes its step overdue); the
writes (duty roster, drafting 表41, telling subscribers) are services/stabilisation.py's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.calendar import is_trading_day
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import site_scope
from handover.registers import catalogue
from handover.registers.models import FROZEN_STATES, Form, Row

# 第三十一条第2项 asks for periodic permission checks without a period; a quarter is this design's choice.
PERMISSION_REVIEW_DAYS = 90
PASSWORD_WARN_DAYS = 7  # 表27: remind a week before next_due_on (第三十一条第1项: 定期更换)
CONTRACT_WARN_DAYS = 30  # 表35: a month before the contract ends, unless renewal_alert_on says otherwise
_SIGNED = FROZEN_STATES
# The 稳定期 step whose routine a register's reminder belongs to (state.py marks it overdue when it lapses).
ROUTINE_STEPS = {40: "S-01", 27: "S-02", 28: "S-03", 35: "S-11"}
DAILY_REPORT_STEP = "S-09"  # 表41 of every trading day (第三十一条第8项, 第十条)
PERIODIC_REVIEW = "定期检查调整"  # 表28: the periodic check, as opposed to a change on request


# Reminders -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """Something a register says is due: which register and row, at which site, by when. ``lapsed``: the
    routine is behind (its 稳定期 step is overdue), not just warned of what comes. ``site`` is filled in
    for the reminders page; the workflow's state needs the id only."""

    register_no: int
    site_id: int
    form_no: str
    seq: int
    due: dt.date
    text: str
    overdue: bool
    lapsed: bool = True
    site: Site | None = None

    @property
    def reason(self) -> str:
        """The row and date, for a step's state: "Password change due (表27): BA-T27-0001 #1, 2026-12-05"."""
        return f"{self.text}: {self.form_no} #{self.seq}, {self.due:%Y-%m-%d}"


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def reminders(*, user: Actor, engagement: Engagement, today: dt.date) -> list[Reminder]:
    """What falls due at the user's sites, soonest first: two queries (the rows, their sites), whatever the
    size."""
    scope = site_scope(user=user, engagement=engagement, capability=perms.VIEW_WORKFLOW)
    if scope is None:
        return []
    found = due_items(
        engagement=engagement, sites=Site.objects.filter(scope, engagement=engagement), today=today
    )
    sites = Site.objects.in_bulk({r.site_id for r in found})
    placed = [replace(r, site=sites[r.site_id]) for r in found]
    return sorted(placed, key=lambda r: (r.due, sites[r.site_id].path, r.register_no))


# (register, site id, form number, row seq, row data): a current row of a routine register.
_RoutineRow = tuple[int, int, str, int, dict[str, Any]]


def _routine_rows(engagement: Engagement, sites: QuerySet[Site] | None) -> list[_RoutineRow]:
    """The current rows the reminders read, of 表27, 表28, 表35 and 表40 at once (one query): 表35 contracts
    still running, 表40 actions still open, 表28 periodic checks."""
    wanted = (
        Q(form__register_no=27)
        | Q(form__register_no=28, data__change_type=PERIODIC_REVIEW)
        | (Q(form__register_no=35) & ~Q(data__performance__in=["履行完毕", "终止"]))
        | Q(form__register_no=40, data__closed=False)
    )
    rows = Row.objects.filter(
        wanted, form__engagement=engagement, form__is_current=True, is_current=True
    ).values_list("form__register_no", "form__site_id", "form__form_no", "seq", "data")
    if sites is not None:
        rows = rows.filter(form__site__in=sites)
    return list(rows)


def due_items(*, engagement: Engagement, sites: QuerySet[Site] | None, today: dt.date) -> list[Reminder]:
    """The reminders of ``sites`` (None: every site), unsorted and without their ``site``; one query. The
    workflow's state reads them for the whole engagement (state.py), the reminders page for the user's
    sites."""
    found: list[Reminder] = []

    def add(
        row: _RoutineRow, due: dt.date | None, text: str, horizon: int = 0, warn_only: bool = False
    ) -> None:
        if due is not None and due <= today + dt.timedelta(days=horizon):
            late = due < today
            number, site_id, form_no, seq, _data = row
            found.append(Reminder(number, site_id, form_no, seq, due, text, late, late or not warn_only))

    reviews: list[_RoutineRow] = []
    for row in _routine_rows(engagement, sites):
        number, data = row[0], row[4]
        if number == 27:
            # 第三十一条第1项: a change coming within the week is a warning; past next_due_on, the routine lapsed.
            add(
                row, _date(data.get("next_due_on")), _("Password change due (表27)"), PASSWORD_WARN_DAYS, True
            )
        elif number == 35:
            alert = _date(data.get("renewal_alert_on"))
            end = _date(data.get("end"))
            if alert is not None:
                add(row, alert, _("Contract renewal (表35)"))
            elif end is not None:
                add(row, end, _("Contract ends (表35)"), CONTRACT_WARN_DAYS)
        elif number == 40:
            add(row, _date(data.get("due_on")), _("Corrective action past its date (表40)"), -1)
        else:
            reviews.append(row)
    return found + _review_reminders(reviews, today)


def _review_reminders(rows: list[_RoutineRow], today: dt.date) -> list[Reminder]:
    """表28: a site whose last periodic permission check (定期检查调整) is older than the review period."""
    last: dict[int, _RoutineRow] = {}
    for row in rows:
        known = last.get(row[1])
        if known is None or str(row[4].get("done_at")) > str(known[4].get("done_at")):
            last[row[1]] = row
    found = []
    for _number, site_id, form_no, seq, data in last.values():
        done = _date(data.get("done_at"))
        if done is not None and done + dt.timedelta(days=PERMISSION_REVIEW_DAYS) <= today:
            due = done + dt.timedelta(days=PERMISSION_REVIEW_DAYS)
            text = _("Permission review due (表28)")
            found.append(Reminder(28, site_id, form_no, seq, due, text, due < today))
    return found


def last_trading_day(before: dt.date) -> dt.date:
    """The last trading day before ``before`` (weekdays where the holiday data does not reach)."""
    day = before - dt.timedelta(days=1)
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def daily_report_missing(*, engagement: Engagement, site_ids: set[int], day: dt.date) -> set[int]:
    """The sites among ``site_ids`` without a signed current 表41 of ``day`` (第三十一条第8项, 第十条): one query."""
    signed = Form.objects.filter(
        engagement=engagement,
        register_no=catalogue.DAILY_REPORT,
        form_date=day,
        is_current=True,
        state__in=_SIGNED,
    ).values_list("site_id", flat=True)
    return site_ids - set(signed)

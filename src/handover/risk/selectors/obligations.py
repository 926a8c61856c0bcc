"""The catalogue of reports owed to the regulator (三(七)一 报告义务和流程要求; guideline 第二十条第3项,
第二十七条第4项): each with its due date and status — done, due, or overdue.

- incident reports: every reporting clock of every incident (immediate, updates, written, investigation);
- drill reports: every drill planned, done when held;
- the annual security report of the previous year, due on ``HANDOVER_ANNUAL_REPORT_DUE`` (a deployment's date;
  the measures' text fixing it is not held here), done when recorded as filed with its receipt;
- the 表1–4 returns of 准备期 (月报/季报, 第二十条第3项): each return received, done when its receipt is recorded,
  and the next one expected after the period that follows the latest;
- 表24 (第二十七条第4项, step N-04): due at N-04's deadline, done when signed.

Everything in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Min
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import Form, FormState
from handover.risk.models import ClockKind, Drill, ReportClock, ReportFiling
from handover.risk.selectors.common import visible
from handover.workflow.deadlines import BEIJING, due_at

DONE, DUE, OVERDUE, EXPECTED = "done", "due", "overdue", "expected"
_CLOCK: dict[str, str] = {
    ClockKind.IMMEDIATE: "即时报告", ClockKind.UPDATE: "续报", ClockKind.WRITTEN: "书面报告",
    ClockKind.INVESTIGATION: "调查报告",
}  # fmt: skip


@dataclass(frozen=True)
class Owed:
    kind: str  # incident | drill | annual | return | t24
    key: str  # what a filing names ("annual:2025", "return:<form no.>"); "" when done otherwise
    title: str
    due_at: dt.datetime | None
    status: str
    done_at: dt.datetime | None = None
    reference: str = ""


def _end_of(day: dt.date, hour: int = 17) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BEIJING)


def _status(due: dt.datetime | None, done: dt.datetime | None, now: dt.datetime) -> str:
    if done is not None:
        return DONE
    return OVERDUE if due is not None and due < now else DUE


def annual_due(year: int) -> dt.date:
    """When the report of ``year - 1`` is owed in ``year``."""
    text = str(getattr(settings, "HANDOVER_ANNUAL_REPORT_DUE", "04-30") or "04-30")
    try:
        month, day = (int(part) for part in text.split("-"))
        return dt.date(year, month, day)
    except ValueError:
        return dt.date(year, 4, 30)


_MONTH = re.compile(r"^(\d{4})\D?(\d{1,2})\D*$")
_QUARTER = re.compile(r"^(\d{4})\s*(?:Q|q|年第?)\s*([1-4])")


def next_period(period: str, cycle: str) -> tuple[str, dt.date] | None:
    """The period after ``period`` (月报 "2026-11", 季报 "2026Q3") and the day it ends; None if unreadable."""
    period = (period or "").strip()
    if cycle == "季报" and (m := _QUARTER.match(period)):
        year, quarter = int(m.group(1)), int(m.group(2)) + 1
        year, quarter = (year + 1, 1) if quarter > 4 else (year, quarter)
        first_of_next = dt.date(year + (quarter == 4), 1 if quarter == 4 else quarter * 3 + 1, 1)
        return f"{year}Q{quarter}", first_of_next - dt.timedelta(days=1)
    if cycle == "月报" and (m := _MONTH.match(period)):
        year, month = int(m.group(1)), int(m.group(2)) + 1
        if not 2 <= month <= 13:
            return None
        year, month = (year + 1, 1) if month == 13 else (year, month)
        first_of_next = dt.date(year + (month == 12), 1 if month == 12 else month + 1, 1)
        return f"{year}-{month:02d}", first_of_next - dt.timedelta(days=1)
    return None


def reports_owed(*, user: Actor, engagement: Engagement, now: dt.datetime) -> list[Owed]:
    visible(user, engagement, perms.VIEW_RISK)
    filings = {f.key: f for f in ReportFiling.objects.filter(engagement=engagement)}
    found: list[Owed] = []
    clocks = ReportClock.objects.filter(
        incident__engagement=engagement, cancelled_at__isnull=True
    ).select_related("incident")
    for clock_ in clocks:
        title = _("%(incident)s: %(report)s") % {"incident": clock_.incident.number,
                                                "report": _CLOCK.get(clock_.kind, clock_.kind)}  # fmt: skip
        found.append(Owed("incident", "", title, clock_.due_at, _status(clock_.due_at, clock_.done_at, now),
                          clock_.done_at))  # fmt: skip
    for drill in Drill.objects.filter(engagement=engagement):
        due = _end_of(drill.due_on, 23)
        held = _end_of(drill.held_on, 12) if drill.held_on else None
        found.append(Owed("drill", "", _("Drill: %(scenario)s") % {"scenario": drill.get_scenario_display()}, due,
                          _status(due, held, now), held))  # fmt: skip
    year = now.astimezone(BEIJING).year
    key = f"annual:{year - 1}"
    filed = filings.get(key)
    due = _end_of(annual_due(year))
    found.append(Owed("annual", key, _("Annual security report %(year)d") % {"year": year - 1}, due,
                      _status(due, filed.filed_at if filed else None, now),
                      filed.filed_at if filed else None, filed.reference if filed else ""))  # fmt: skip
    returns = Form.objects.filter(
        engagement=engagement, register_no__in=(1, 2, 3, 4), is_current=True
    ).order_by("register_no", "form_date", "pk")
    latest: dict[int, Form] = {}
    for form in returns:
        latest[form.register_no] = form
        key = f"return:{form.form_no}"
        filed = filings.get(key)
        header = form.header or {}
        title = _("表%(no)s %(cycle)s %(period)s: receipt") % {
            "no": form.register_no, "cycle": header.get("report_cycle", ""), "period": header.get("report_period", ""),
        }  # fmt: skip
        status = DONE if filed else (DUE if form.state != FormState.SIGNED else OVERDUE)
        found.append(Owed("return", key, title, None, status, filed.filed_at if filed else None,
                          filed.reference if filed else ""))  # fmt: skip
    for number, form in latest.items():
        header = form.header or {}
        cycle = str(header.get("report_cycle", ""))
        upcoming = next_period(str(header.get("report_period", "")), cycle)
        if upcoming is not None:
            period, ends = upcoming
            title = _("表%(no)s %(cycle)s %(period)s: next return expected") % {
                "no": number, "cycle": cycle, "period": period,
            }  # fmt: skip
            found.append(Owed("return", "", title, _end_of(ends), EXPECTED))
    n04 = due_at("N-04", engagement.disposal_date)
    t24 = Form.objects.filter(engagement=engagement, register_no=24, is_current=True, state=FormState.SIGNED)
    signed = t24.aggregate(at=Min("signatures__signed_at"))["at"]
    title = _("表24 handover summary to the working group (第二十七条第4项)")
    found.append(Owed("t24", "", title, n04, _status(n04, signed, now), signed))
    order = {OVERDUE: 0, DUE: 1, EXPECTED: 2, DONE: 3}
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda o: (order[o.status], o.due_at or far, o.title))

"""Records that cannot describe the impossible (issue 13; ux review H3): one rule set that every write path
runs through ``rules.check_row``, so a typed row, an imported one and one sent to the API are judged alike.

- Order: an end is not before its start, and a step of the work is not before the one it follows (表22: the
  machine is reconnected only after its offline scan ended, 第二十六条第8项「断网病毒查杀后方可恢复网络连接」).
- Not in the future: the time of work already done is not later than now (a few minutes' tolerance for
  clocks that differ); a date of something done is not after today in Beijing. Planned times (表31 计划时间,
  due dates, watch-until dates) are not checked.
- Counts: a column that says how many (份数, 数量) is at least 1, and a count of findings (感染数) is not
  negative.
- Places: a host belongs to the row's system, and the system to the form's site, a site above it (head
  office's 集中交易系统 at a 营业部) or one below it, never a sister site's.

Each refusal names the register, the column and the article where there is one, and says what to do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from handover.registers import catalogue, hooks
from handover.registers.models import Asset, Form, InformationSystem

BEIJING = ZoneInfo("Asia/Shanghai")
TOLERANCE = dt.timedelta(minutes=10)  # clocks of a branch laptop and the server may differ by minutes

# (earlier, later, strictly later, article): per register, which time must not come before which.
ORDER: dict[int, tuple[tuple[str, str, bool, str], ...]] = {
    8: (("started_at", "ended_at", False, "第二十六条第1项"),),
    10: (("changed_at", "verified_at", False, "第二十六条第2项"),),
    14: (("as_of", "backed_up_at", False, "第二十六条第4项"),),
    15: (("from_date", "to_date", False, "第二十六条第5项"),),
    19: (("start", "end", False, ""),),
    22: (
        ("disconnected_at", "scan_start", False, "第二十六条第8项"),
        ("scan_start", "scan_end", False, "第二十六条第8项"),
        ("scan_end", "reconnected_at", True, "第二十六条第8项"),
    ),
    23: (("tested_at", "fixed_at", False, "第二十六条第10项"),),
    25: (("in_at", "out_at", False, ""),),
    26: (("at", "returned_at", False, ""),),
    27: (("changed_at", "verified_at", False, "第三十一条第1项"),),
    30: (("start", "end", False, ""),),
    35: (("start", "end", False, ""),),
    36: (("req_date", "accepted_on", False, ""),),
    38: (("scan_start", "scan_end", False, ""),),
    39: (
        ("found_at", "reported_tg_at", False, "第二十八条"),
        ("found_at", "reported_wg_at", False, "第二十八条"),
        ("found_at", "closed_on", False, "第二十八条"),
    ),
}
# Columns that hold when something planned or due is to happen, not when work was done.
PLANNED = frozenset(
    {
        (11, "disable_until"),
        (16, "support_until"),
        (17, "support_until"),
        (19, "end"),
        (23, "remediation_due"),
        (26, "due_back"),
        (27, "next_due_on"),
        (31, "planned_at"),
        (32, "support_until"),
        (33, "support_until"),
        (35, "end"),
        (35, "renewal_alert_on"),
        (40, "due_on"),
    }
)
# How-many columns: at least one (a zero would be a row about nothing), and counts of findings: not negative.
AT_LEAST_ONE = frozenset({(8, "copies"), (16, "qty"), (18, "copies"), (26, "qty"), (32, "qty"), (36, "qty")})
COUNTS = frozenset({"infections", "clients", "servers", "it_staff", "licence_qty"})


def now() -> dt.datetime:
    """The current time: the clock a plug-in names (the workflow's, which tests and the demo may set)."""
    return hooks.clock()


def check(form: Form, data: dict[str, Any]) -> None:
    """Every plausibility rule for one row's clean values; raises ``rules.RuleViolation`` on the first."""
    number = form.register_no
    if catalogue.get(number).computed:  # the engine's rows, not a person's
        return
    _not_in_future(form, data)
    _in_order(form, data)
    _counts(form, data)
    _places(form, data)


def _violation(form: Form, message: str, field: str) -> Exception:
    from handover.registers.rules import RuleViolation

    return RuleViolation(message, field=field, register_no=form.register_no, site_id=form.site_id)


def _label(register_no: int, key: str) -> str:
    return next((c.zh for c in catalogue.columns(register_no) if c.key == key), key)


def _moment(value: Any, *, end_of_day: bool = False) -> dt.datetime | None:
    """A stored date or time as an aware Beijing time (a date as its start, or end, of day)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min, BEIJING)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=BEIJING) if moment.tzinfo is None else moment.astimezone(BEIJING)


def in_future(register_no: int, data: dict[str, Any]) -> str:
    """The first column of the row that says work was done later than now, or "" (the demo leaves out the
    work of days that have not come yet)."""
    current = now().astimezone(BEIJING)
    today_end = dt.datetime.combine(current.date(), dt.time.max, BEIJING)
    for column in catalogue.columns(register_no):
        if column.type not in ("dt", "date") or (register_no, column.key) in PLANNED:
            continue
        moment = _moment(data.get(column.key))
        if moment is not None and moment > (current + TOLERANCE if column.type == "dt" else today_end):
            return column.key
    return ""


def _not_in_future(form: Form, data: dict[str, Any]) -> None:
    key = in_future(form.register_no, data)
    if not key:
        return
    raise _violation(
        form,
        _(
            "表%(n)d %(column)s is %(value)s, which is in the future (now %(now)s, Beijing time): a register "
            "records work already done. Enter the time it was done, or record it when it is."
        )
        % {
            "n": form.register_no,
            "column": _label(form.register_no, key),
            "value": data[key],
            "now": now().astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
        },
        key,
    )


def _in_order(form: Form, data: dict[str, Any]) -> None:
    for first, then, strict, article in ORDER.get(form.register_no, ()):
        start, end = _moment(data.get(first)), _moment(data.get(then), end_of_day=True)
        if start is None or end is None:
            continue
        if end < start or (strict and end == start):
            values = {
                "n": form.register_no,
                "first": _label(form.register_no, first),
                "then": _label(form.register_no, then),
                "start": data[first],
                "end": data[then],
                "article": f"（{article}）" if article else "",
            }
            text = (
                _(
                    "表%(n)d %(then)s (%(end)s) must be after %(first)s (%(start)s)%(article)s: correct the times."
                )
                if strict
                else _(
                    "表%(n)d %(then)s (%(end)s) is before %(first)s (%(start)s)%(article)s: an end cannot come "
                    "before its start; correct the times."
                )
            )
            raise _violation(form, text % values, then)


def _counts(form: Form, data: dict[str, Any]) -> None:
    for column in catalogue.columns(form.register_no):
        value = data.get(column.key)
        if column.type != "int" or not isinstance(value, int):
            continue
        if (form.register_no, column.key) in AT_LEAST_ONE and value < 1:
            raise _violation(
                form,
                _("表%(n)d %(column)s is %(value)d: it counts how many there are, so it is at least 1.")
                % {"n": form.register_no, "column": column.zh, "value": value},
                column.key,
            )
        if column.key in COUNTS and value < 0:
            raise _violation(
                form,
                _("表%(n)d %(column)s is %(value)d: a count is not negative.")
                % {"n": form.register_no, "column": column.zh, "value": value},
                column.key,
            )


def _places(form: Form, data: dict[str, Any]) -> None:
    """A host belongs to the row's system, and the system to the form's line of the site tree."""
    system_id, asset_id = data.get("system_id"), data.get("asset_id")
    if not isinstance(system_id, int):
        return
    from handover.registers.rules import memoised

    system = memoised(
        ("plausible-system", form.engagement_id, system_id),
        lambda: (
            InformationSystem.objects.filter(pk=system_id, engagement_id=form.engagement_id)
            .select_related("site")
            .first()
        ),
    )
    if system is None:
        return  # the reference check names a missing system
    # A 营业部 uses head office's 集中交易系统, and 总部's forms may list a branch's systems; a sister
    # branch's system is another site's.
    here, there = form.site.path, system.site.path
    if not (there.startswith(here) or here.startswith(there)):
        raise _violation(
            form,
            _(
                "表%(n)d: the system %(system)s is at %(where)s, which is neither %(site)s, a site above it nor "
                "one below it. Choose a system of %(site)s, or record the row in a form of %(where)s."
            )
            % {
                "n": form.register_no,
                "system": system.name,
                "where": system.site.name,
                "site": form.site.name,
            },
            "system_id",
        )
    if not isinstance(asset_id, int):
        return
    found = memoised(
        ("plausible-asset", form.engagement_id, asset_id),
        lambda: _asset_systems(form.engagement_id, asset_id),
    )
    if found is None:
        return
    asset, linked = found
    if linked and system_id not in linked:
        raise _violation(
            form,
            _(
                "表%(n)d: the host %(host)s does not run the system %(system)s. Choose a host of %(system)s, or "
                "choose the system the host runs."
            )
            % {"n": form.register_no, "host": asset.hostname or asset.name, "system": system.name},
            "asset_id",
        )


def _asset_systems(engagement_id: int, asset_id: int) -> tuple[Asset, set[int]] | None:
    asset = Asset.objects.filter(pk=asset_id, engagement_id=engagement_id).first()
    return None if asset is None else (asset, set(asset.systems.values_list("pk", flat=True)))

"""The computed registers, derived from the store and never entered by hand (registers.md §3.2):

- 表6, the staff summary, aggregates 表5 per site and department (第二十五条第3项);
- 表7's progress columns follow the rows of 表8, 表10, 表11/13, 表14 and 表23 for each system (第二十五条第5项);
- 表24 counts, per annexed register and site, the rows expected, filled and signed, the open issues, the
  exceptions of 表39 and what is overdue (第二十七条第3、4项).

Pages and exports call these functions; ``seeding.computed_form_build`` writes their result as a form so it
can be signed. Each reads the whole engagement in a fixed number of queries, whatever the number of sites.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KT

from handover.org.models import Engagement, Site
from handover.registers import catalogue, hooks
from handover.registers.models import FROZEN_STATES, Account, Asset, Form, FormState, InformationSystem, Row

# Account classes whose holders are key staff (表6 关键岗位人员: super-user or back-end accounts).
KEY_ACCOUNT_CLASSES = ("超级用户", "等效超级用户", "后台用户")
# Which register columns make a row "failed or rolled back" (第二十八条): each such row must end with a
# 表39 entry reported to 技术组. Values are the stored ones (the Chinese term, or True/False for bools).
FAILED_WHEN: dict[int, tuple[tuple[str, tuple[Any, ...]], ...]] = {
    8: (("readable", ("不通过",)),),
    9: (("obtained_by", ("未获得", "开发商协助", "解密工具破解", "其他技术机构破解")),),
    # 第二十六条第2项 「对配置文件中相应用户的密码进行修改」: a configuration left with the old password fails.
    10: (
        ("test_result", ("异常-已恢复原密码", "异常-处理中")),
        ("login_verified", ("失败",)),
        ("used_in_config", ("未修改",)),
    ),
    13: (("run_check", ("异常-已回退", "异常-已加权限")),),
    # 第二十六条第4项 「作好备份数据的异地备份」: no offsite copy is an open item.
    14: (
        ("integrity", ("不通过",)),
        ("readability", ("不通过",)),
        ("upload_via", ("快递",)),
        ("offsite", (False,)),
    ),
    15: (
        (
            "hist_exception",
            ("数据不全", "无历史备份", "介质损坏无法读取", "资料不全无法读取", "其他无法确认"),
        ),
        ("tamper_found", (True,)),
    ),
    18: (("complete", (False,)),),
    # 第二十六条第8项 A: an unpatched machine is an open item.
    22: (("run_check", ("异常",)), ("outcome", ("无法清除", "重装系统")), ("patched", (False,))),
    # 第二十六条第10项 「及时解决系统中存在的问题」: a failed joint test is registered and reported.
    23: (("result", ("不通过",)),),
    # 第三十一条第1项 「满足口令强度要求」: a password that does not is a failure.
    27: (
        ("test_result", ("异常-已恢复原密码", "异常-处理中")),
        ("login_verified", ("失败",)),
        ("strength_ok", (False,)),
    ),
    28: (("run_check", ("异常-已回退", "异常-已加权限")),),
    29: (("integrity", ("不通过",)), ("readability", ("不通过",))),
}
# 表7's progress columns and the registers each follows.
PROGRESS_SOURCES: dict[str, tuple[int, ...]] = {
    "st_backup": (8,),
    "st_pwd": (10,),
    "st_perm": (11, 13),
    "st_data": (14,),
    "st_test": (23,),
}
NOT_STARTED, DONE, EXCEPTION = "未开始", "完成", "异常"
# The registers 表24 annexes (registers.md 表24: 5–23 and 39), from their declarations (RegisterSpec.annexed).
ANNEXED = catalogue.ANNEXED


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the last day of a shorter month if needed)."""
    years, month_index = divmod(day.month - 1 - months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def half_year_window(engagement: Engagement) -> tuple[date, date]:
    """第二十五条第3项: 处置日前半年内, from D − 6 months to D, both included."""
    disposal = engagement.disposal_date
    return months_before(disposal, 6), disposal


def current_rows(engagement: Engagement, register_nos: Iterable[int]) -> QuerySet[Row]:
    """The current version of every row in the current forms of these registers."""
    return Row.objects.filter(
        is_current=True,
        form__is_current=True,
        form__engagement=engagement,
        form__register_no__in=list(register_nos),
    )


def row_failed(register_no: int, data: dict[str, Any]) -> str:
    """The column label that makes this row a failed or rolled-back one (第二十八条), or ""."""
    by_key = {column.key: column for column in catalogue.columns(register_no)}
    for key, values in FAILED_WHEN.get(register_no, ()):
        if data.get(key) in values:
            return by_key[key].zh
    return ""


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# 表6 ------------------------------------------------------------------------------------------------------


def staff_summary(*, engagement: Engagement, sites: Iterable[Site] | None = None) -> list[dict[str, Any]]:
    """表6's rows from 表5: per site and department the counts, key staff and posts, in 表6's column keys."""
    rows = current_rows(engagement, [5])
    if sites is not None:
        rows = rows.filter(form__site__in=[site.pk for site in sites])
    # A draft row filled by a machine may lack its site (partial); it is counted once it has one.
    data = [row.data for row in rows.only("data") if row.data.get("site_id")]
    held = {pk for d in data for pk in d.get("accounts_held", [])}
    key_accounts = set(
        Account.objects.filter(pk__in=held, account_class__in=KEY_ACCOUNT_CLASSES).values_list(
            "pk", flat=True
        )
    )
    start, end = half_year_window(engagement)
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for d in data:
        groups[(d["site_id"], d.get("dept", ""))].append(d)
    return [
        _summary_line(site_id, dept, members, key_accounts, start, end)
        for (site_id, dept), members in sorted(groups.items())
    ]


def _summary_line(
    site_id: int, dept: str, members: list[dict[str, Any]], key_accounts: set[int], start: date, end: date
) -> dict[str, Any]:
    active = [m for m in members if m.get("employment") == "在职"]
    left_recently = [
        m
        for m in members
        if m.get("employment") == "离职"
        and m.get("leave_date")
        and start <= date.fromisoformat(m["leave_date"]) <= end
    ]
    key_staff = sorted({m["person_id"] for m in members if key_accounts & set(m.get("accounts_held", []))})
    posts = Counter(m.get("post", "") for m in active)
    return {
        "site_id": site_id,
        "dept": dept,
        "active_count": len(active),
        "contractor_count": sum(1 for m in active if m.get("employment_type") == "外包驻场"),
        "left_6m_count": len(left_recently),
        "key_staff": key_staff,
        "post_breakdown": "、".join(f"{post}×{n}" for post, n in sorted(posts.items())),
    }


# 表7 ------------------------------------------------------------------------------------------------------


def system_progress(
    *, engagement: Engagement, system_ids: Iterable[int] | None = None
) -> dict[int, dict[str, str]]:
    """表7's 交接进度 per system: 未开始 with no row, 异常 while a failed row's exception is not closed, else 完成."""
    sources = sorted({n for numbers in PROGRESS_SOURCES.values() for n in numbers})
    rows = current_rows(engagement, sources)
    if system_ids is not None:
        rows = rows.filter(data__system_id__in=list(system_ids))
    found: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for register_no, data in rows.values_list("form__register_no", "data"):
        system_id = _as_int(data.get("system_id"))
        if system_id is not None:
            found[system_id].append((register_no, data))
    closed = closed_exceptions(engagement=engagement)
    return {
        system_id: {
            column: _progress([(n, d) for n, d in entries if n in numbers], closed)
            for column, numbers in PROGRESS_SOURCES.items()
        }
        for system_id, entries in found.items()
    }


def _progress(rows: list[tuple[int, dict[str, Any]]], closed: set[int]) -> str:
    if not rows:
        return NOT_STARTED
    for number, data in rows:
        if row_failed(number, data) and not set(data.get("exception_refs", [])) & closed:
            return EXCEPTION
        if number == 23 and data.get("result") == "不通过" and not data.get("fixed_at"):
            return EXCEPTION
    return DONE


def progress_of(*, engagement: Engagement, system_id: int) -> dict[str, str]:
    """The progress columns of one system, for a 表7 row being written."""
    found = system_progress(engagement=engagement, system_ids=[system_id])
    return found.get(system_id, dict.fromkeys(PROGRESS_SOURCES, NOT_STARTED))


def closed_exceptions(*, engagement: Engagement) -> set[int]:
    """The 表39 rows whose state is 已关闭."""
    rows = current_rows(engagement, [39]).filter(data__state="已关闭")
    return set(rows.values_list("pk", flat=True))


# 表24 -----------------------------------------------------------------------------------------------------


@dataclass
class SummaryLine:
    """One line of 表24: a register at a site (``site`` None on the 合计 line)."""

    register_no: int
    site: Site | None
    rows_expected: int = 0
    rows_filled: int = 0
    rows_signed: int = 0
    form_state: str = ""
    open_issues: int = 0
    exceptions: int = 0
    exceptions_open: int = 0
    overdue: int = 0
    annex_refs: list[str] = field(default_factory=list)
    fed_back: bool = False  # the site reported the lateness of a step producing this register (workflow)

    @property
    def reported_daily(self) -> bool:
        """第二十七条第2项 「现场技术岗位当日应将情况反馈至技术组」: nothing overdue, or the site reported it."""
        return self.overdue == 0 or self.fed_back

    def as_data(self) -> dict[str, Any]:
        """The line in 表24's column keys, as a computed row stores it."""
        return {
            "register_no": f"表{self.register_no}",
            "site_id": self.site.pk if self.site else None,
            "rows_expected": self.rows_expected,
            "rows_filled": self.rows_filled,
            "rows_signed": self.rows_signed,
            "form_state": self.form_state,
            "open_issues": self.open_issues,
            "exceptions": self.exceptions,
            "exceptions_open": self.exceptions_open,
            "overdue": self.overdue,
            "reported_daily": self.reported_daily,
            "annex_ref": "; ".join(self.annex_refs) or "—",
        }


STATE_LABELS: dict[str, str] = {
    FormState.DRAFT: "草稿",
    FormState.SUBMITTED: "已提交",
    FormState.SIGNED: "已签字",
    FormState.ARCHIVED: "已归档",
}
_STATE_ORDER: list[str] = [FormState.DRAFT, FormState.SUBMITTED, FormState.SIGNED, FormState.ARCHIVED]


def handover_summary(
    *, engagement: Engagement, sites: Iterable[Site] | None = None, as_of: date | None = None
) -> list[SummaryLine]:
    """表24's body: one line per annexed register × site that has a form or expects rows, then 合计.

    ``as_of`` (today by default) decides what is overdue: after the disposal day, every expected row not
    yet signed (第二十七条第2项: not finished in the set time).
    """
    as_of = as_of or date.today()
    site_list = (
        list(sites) if sites is not None else list(Site.objects.filter(engagement=engagement, is_active=True))
    )
    by_id = {site.pk: site for site in site_list}
    lines = {(n, s): SummaryLine(n, by_id[s]) for n in ANNEXED for s in by_id}
    _count_forms(engagement, lines)
    _count_rows(engagement, lines)
    _count_issues(engagement, lines, as_of)
    _count_exceptions(engagement, lines)
    for (n, s), count in expected_rows(engagement=engagement).items():
        if (n, s) in lines:
            lines[(n, s)].rows_expected = count
    overdue_from = as_of > engagement.disposal_date
    fed_back = hooks.fed_back(engagement.pk)
    kept = []
    for (number, site_id), line in lines.items():
        line.fed_back = (site_id, number) in fed_back
        line.rows_expected = max(line.rows_expected, line.rows_filled)
        if overdue_from:
            line.overdue = max(line.rows_expected - line.rows_signed, 0)
        if line.rows_expected or line.annex_refs or line.exceptions:
            kept.append(line)
    kept.sort(key=lambda line: (line.site.path if line.site else "", line.register_no))
    return [*kept, _total(kept)]


def _total(lines: list[SummaryLine]) -> SummaryLine:
    total = SummaryLine(0, None)
    for line in lines:
        for name in (
            "rows_expected",
            "rows_filled",
            "rows_signed",
            "open_issues",
            "exceptions",
            "exceptions_open",
            "overdue",
        ):
            setattr(total, name, getattr(total, name) + getattr(line, name))
    return total


def _count_forms(engagement: Engagement, lines: dict[tuple[int, int], SummaryLine]) -> None:
    """The annexed form versions, and the least advanced state among a register's forms at a site."""
    forms = Form.objects.filter(engagement=engagement, is_current=True, register_no__in=ANNEXED)
    states: dict[tuple[int, int], list[str]] = defaultdict(list)
    for number, site_id, state, form_no, version in forms.values_list(
        "register_no", "site_id", "state", "form_no", "version"
    ).order_by("form_no"):
        if (number, site_id) in lines:
            lines[(number, site_id)].annex_refs.append(f"{form_no} v{version}")
            states[(number, site_id)].append(state)
    for key, found in states.items():
        lines[key].form_state = STATE_LABELS[min(found, key=_STATE_ORDER.index)]


def _count_rows(engagement: Engagement, lines: dict[tuple[int, int], SummaryLine]) -> None:
    rows = (
        current_rows(engagement, ANNEXED)
        .values_list("pk", "form__register_no", "form__site_id", "form__state")
        .annotate(n_signatures=Count("signatures"))
        .order_by()
    )
    for _pk, number, site_id, state, n_signatures in rows:
        line = lines.get((number, site_id))
        if line is None:
            continue
        line.rows_filled += 1
        frozen = state in FROZEN_STATES
        if frozen or (catalogue.get(number).dual_signature and n_signatures >= 2):
            line.rows_signed += 1


def _count_issues(engagement: Engagement, lines: dict[tuple[int, int], SummaryLine], as_of: date) -> None:
    """未结问题: 表23 遗留问题, 表11 停用 (watched, then to delete or restore) and super-users still running
    batch work, 表15 缺口 (registers.md 表24), and 表10 changes whose
    login was not verified to succeed (第二十六条第2项: 及时作好相应测试)."""
    for number, site_id, data in current_rows(engagement, [10, 11, 15, 23]).values_list(
        "form__register_no", "form__site_id", "data"
    ):
        line = lines.get((number, site_id))
        if line is None:
            continue
        if (
            (number == 10 and data.get("login_verified") != "成功")
            or (number == 23 and data.get("open_issue"))
            or (number == 15 and data.get("continuity") == "有缺口")
            or (number == 11 and _t11_open(data))
        ):
            line.open_issues += 1


def _t11_open(data: dict[str, Any]) -> bool:
    """第二十六条第3项 A and D as open items of 表24: a 停用 account is open while it is watched and, once its
    date has passed, until a later row deletes or restores it (the current row then says so); a super-user
    used for back-end processing stays open until a replacement user is created."""
    if data.get("action") == "停用":
        return True
    return (
        data.get("used_for_batch") is True
        and data.get("account_class") in ("超级用户", "等效超级用户")
        and data.get("action") != "建替代用户"
    )


def _count_exceptions(engagement: Engagement, lines: dict[tuple[int, int], SummaryLine]) -> None:
    """异常/未关闭 from 表39: on the line of the register and site of the row that raised it, and on 表39's."""
    entries = list(current_rows(engagement, [39]).values_list("form__site_id", "data"))
    sources = {_as_int(d.get("source_row_ref")) for _, d in entries} - {None}
    where = {
        pk: (number, site_id)
        for pk, number, site_id in Row.objects.filter(pk__in=sources).values_list(
            "pk", "form__register_no", "form__site_id"
        )
    }
    for site_id, data in entries:
        is_open = data.get("state") != "已关闭"
        keys = [(39, site_id)]
        source = where.get(_as_int(data.get("source_row_ref")) or 0)
        if source is not None:
            keys.append(source)
        for key in keys:
            line = lines.get(key)
            if line is not None:
                line.exceptions += 1
                line.exceptions_open += int(is_open)


def expected_rows(*, engagement: Engagement) -> dict[tuple[int, int], int]:
    """How many rows each register should have at each site, from 表7 and the entity counts (表24 应填)."""
    expected: Counter[tuple[int, int]] = Counter()
    systems_in_t7 = defaultdict(set)
    for site_id, system_id in current_rows(engagement, [7]).values_list(
        "form__site_id", KT("data__system_id")
    ):
        if _as_int(system_id) is not None:
            systems_in_t7[site_id].add(int(system_id))
    accounts = Account.objects.filter(engagement=engagement, is_active=True)
    with_accounts = set(accounts.values_list("system_id", flat=True))
    # 第二十六条第2、3项: one row per key account (completeness.py), one per system with other accounts only.
    key = Counter(
        accounts.filter(account_class__in=KEY_ACCOUNT_CLASSES)
        .exclude(status="已删除")
        .values_list("system_id", flat=True)
    )
    for site_id, systems in systems_in_t7.items():
        for number in (8, 14, 23):
            expected[(number, site_id)] = len(systems)
        per_system = len({pk for pk in systems & with_accounts if not key[pk]})
        per_account = sum(key[pk] for pk in systems)
        expected[(9, site_id)] = per_account
        for number in (10, 11):
            expected[(number, site_id)] = per_system + per_account
    for site_id, n in _count_by(InformationSystem.objects.filter(engagement=engagement, is_active=True)):
        expected[(7, site_id)] = n
    for site_id, n in _count_by(
        InformationSystem.objects.filter(engagement=engagement, is_active=True, category="营业部柜台")
    ):
        expected[(15, site_id)] = n
    for site_id, n in _count_by(Asset.objects.filter(engagement=engagement, is_active=True)):
        expected[(16, site_id)] = expected[(22, site_id)] = n
    return dict(expected)


def _count_by(queryset: QuerySet[Any]) -> list[tuple[int, int]]:
    return list(queryset.values("site_id").annotate(n=Count("pk")).values_list("site_id", "n"))


def t22_summary(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """表22's 汇总 block from its rows (第二十六条第8项, trace C9 C): the machines, those scanned, those found
    infected, and those whose sweep is unfinished (no scan end, or an infection that could not be cleaned)."""
    rows = list(rows)
    return {
        "device_total": len({row.get("asset_id") for row in rows if row.get("asset_id") is not None}),
        "scanned_total": sum(1 for row in rows if row.get("scan_end")),
        "infected_total": sum(1 for row in rows if (_as_int(row.get("infections")) or 0) > 0),
        "unfinished_total": sum(
            1 for row in rows if not row.get("scan_end") or row.get("outcome") == "无法清除"
        ),
    }

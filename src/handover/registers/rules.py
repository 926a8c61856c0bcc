"""The cross-register rules of registers.md §4, which block a write and say which row is missing and where.

``check_row`` runs on every row written (after its columns are valid), ``check_form`` when a form is
submitted. What each checks:

- backup gates: 表10 needs its 表8 改密前备份 (第二十六条第2项), 表11 and 表13 their 表8 权限核查前备份
  (第二十六条第3项), 表37 its 表29 backup (第三十一条第7项);
- exception closure (第二十八条): a row links existing 表39 entries, and a form is submitted only when each
  of its failed or rolled-back rows links one and every linked entry is reported to 技术组. That is checked
  at submission, not on entry, because the 表39 entry names the row it came from and so is written after it,
  and a machine's draft entry is completed by a person;
- the half-year rule of 表5 (第二十五条第3项), at submission;
- trading hours for 表30 and 表37 (第三十一条第3、9项);
- the computed registers 表6 and 表24 are not entered by hand;
- a row describes nothing impossible (plausibility.py: order of times, nothing done in the future, counts,
  a host of its system and a system of its site);
- every reference to a register row points at a row of a register the column names, in this engagement;
- the checks other apps add (hooks.py): the vault's, that a 保管引用 in the vault names a real entry.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.utils.translation import gettext as _

from handover.core import calendar
from handover.core.errors import DomainError
from handover.org.models import Employment, Party, Person
from handover.registers import catalogue, computed, hooks, plausibility
from handover.registers.models import Form, InformationSystem, Row

CHANGE_BACKUP, PERMISSION_BACKUP, FULL_BACKUP = "改密前备份", "权限核查前备份", "交接全备份"
# 第二十六条第2项: 在进行密码修改前，应对所有系统的用户权限及参数文件进行备份.
FULL_BACKUP_MUST_COVER = ("用户权限配置文件", "参数配置文件")


class RuleViolation(DomainError):
    """A cross-register rule refused the write. ``register_no``, ``site_id`` and ``system_id`` say where the
    missing row is to be created, so a page can link there."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        register_no: int | None = None,
        site_id: int | None = None,
        system_id: int | None = None,
    ) -> None:
        super().__init__(message, field=field, code="rule")
        self.register_no = register_no
        self.site_id = site_id
        self.system_id = system_id


def prepare_row(*, form: Form, data: dict[str, Any]) -> dict[str, Any]:
    """The row as it is to be validated: 表7's progress columns are computed, whatever was typed, and the
    computed registers 表6 and 表24 take no row by hand."""
    if catalogue.get(form.register_no).computed:
        raise RuleViolation(
            _("表%(n)d is computed from the other registers and is not entered by hand; build it instead.")
            % {"n": form.register_no},
            register_no=form.register_no,
        )
    if form.register_no != 7:
        return data
    system_id = _as_int(data.get("system_id"))
    if system_id is None:
        return data
    return {**data, **computed.progress_of(engagement=form.engagement, system_id=system_id)}


def check_row(*, form: Form, data: dict[str, Any]) -> None:
    """Every rule a single row must meet; ``data`` holds the row's valid, cleaned values."""
    number = form.register_no
    _register_refs(form, data)
    plausibility.check(form, data)
    gate = BACKUP_GATES.get(number)
    if gate is not None:
        gate(form, data)
    if number == 30:
        _trading_hours_30(data)
        _change_30(form, data)
    if number == 37:
        _trading_hours_37(data)
    if number == 40:
        _capa_effective(data)
    if number == 11:
        _shared_kept(data)
    for check in hooks.ROW_CHECKS:
        check(form, data)


def check_form(*, form: Form) -> None:
    """The rules a whole form must meet before it is submitted for signatures."""
    rows = list(form.rows.filter(is_current=True).order_by("seq"))
    _exceptions_closed(form, rows)
    if form.register_no == 5:
        _half_year(form, rows)


# Helpers ---------------------------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _system_name(form: Form, system_id: int | None) -> str:
    """The system's name, looked up only in the form's engagement so no other engagement's name can leak."""
    found = InformationSystem.objects.filter(pk=system_id, engagement=form.engagement) if system_id else None
    system = found.first() if found is not None else None
    return system.name if system else _("(system %(id)s)") % {"id": system_id}


def _label(register_no: int, key: str) -> str:
    return next(column.zh for column in catalogue.columns(register_no) if column.key == key)


# Within ``lookups_cached()``, a referenced row is read once: an import checks thousands of rows that point
# at the same backup before it writes anything, so the answers cannot change during the block.
_MEMO: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("registers_rules_memo", default=None)


@contextmanager
def lookups_cached() -> Iterator[None]:
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memoised(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """``load()``, read once per ``key`` within ``lookups_cached()`` (a hook's lookups may use it too)."""
    memo = _MEMO.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def _referenced(form: Form, key: str, data: dict[str, Any], register_no: int) -> Row | None:
    """The current or earlier version of the row of 表``register_no`` that ``data[key]`` points at."""
    pk = _as_int(data.get(key))
    if pk is None:
        return None
    return memoised(
        ("row", form.engagement_id, register_no, pk),
        lambda: (
            Row.objects.filter(pk=pk, form__engagement=form.engagement, form__register_no=register_no)
            .select_related("form")
            .first()
        ),
    )


def _register_refs(form: Form, data: dict[str, Any]) -> None:
    """Every reference to a register row points at a row of one of the registers the column names."""
    wanted: list[tuple[str, int, tuple[int, ...]]] = []
    for column in catalogue.columns(form.register_no):
        if column.type not in ("ref", "refs") or not column.ref.startswith("T") or column.key not in data:
            continue
        numbers = tuple(int(part[1:]) for part in column.ref.split("|"))
        values = data[column.key] if isinstance(data[column.key], list) else [data[column.key]]
        wanted += [(column.key, int(pk), numbers) for pk in values]
    if not wanted:
        return
    pks = frozenset(pk for _key, pk, _numbers in wanted)
    found = memoised(
        ("numbers", form.engagement_id, pks),
        lambda: dict(
            Row.objects.filter(pk__in=pks, form__engagement=form.engagement).values_list(
                "pk", "form__register_no"
            )
        ),
    )
    for key, pk, numbers in wanted:
        if found.get(pk) not in numbers:
            names = "、".join(f"表{n}" for n in numbers)
            raise RuleViolation(
                _(
                    "%(column)s: there is no %(registers)s row %(id)s in this engagement; create it there first."
                )
                % {"column": _label(form.register_no, key), "registers": names, "id": pk},
                field=key,
                register_no=numbers[0],
                site_id=form.site_id,
            )


# Backup gates (第二十六条第2、3项, 第三十一条第7项) ----------------------------------------------------------------


def usable_backup(backup: dict[str, Any], system_id: int | None) -> bool:
    """A 表8 row that backs up ``system_id`` and passed its readability check (未校验 is not "readable")."""
    return _as_int(backup.get("system_id")) == system_id and backup.get("readable") == "通过"


def covers_password_change(backups: Iterable[dict[str, Any]], system_id: int | None) -> bool:
    """第二十六条第2项: among these 表8 rows, a usable 改密前备份 of the system, or usable 交接全备份 of it that
    together hold both 用户权限配置文件 and 参数配置文件."""
    mine = [backup for backup in backups if usable_backup(backup, system_id)]
    if any(backup.get("purpose") == CHANGE_BACKUP for backup in mine):
        return True
    full = {backup.get("object_type") for backup in mine if backup.get("purpose") == FULL_BACKUP}
    return set(FULL_BACKUP_MUST_COVER) <= full


def covers_permission_review(backups: Iterable[dict[str, Any]], system_id: int | None) -> bool:
    """第二十六条第3项: among these 表8 rows, a usable 权限核查前备份 of the system."""
    return any(
        usable_backup(backup, system_id) and backup.get("purpose") == PERMISSION_BACKUP for backup in backups
    )


def _gate_t10(form: Form, data: dict[str, Any]) -> None:
    """第二十六条第2项: before a password is changed, the system's user permissions and parameters are backed up."""
    backup = _referenced(form, "pre_backup_ref", data, 8)
    system_id = _as_int(data.get("system_id"))
    purpose = backup.data.get("purpose") if backup is not None else None
    # The row names one backup: a 改密前备份, or one 交接全备份 that, with the system's others, covers both.
    ok = backup is not None and (
        covers_password_change([backup.data], system_id)
        or (
            purpose == FULL_BACKUP
            and usable_backup(backup.data, system_id)
            and covers_password_change(_full_backups(form, system_id), system_id)
        )
    )
    if not ok:
        raise _missing_backup(form, data, 10, CHANGE_BACKUP, "第二十六条第2项", extra=full_backup_hint())
    _backup_before(form, data, backup, "changed_at")


def _full_backups(form: Form, system_id: int | None) -> list[dict[str, Any]]:
    """The system's 交接全备份 rows in the form's engagement."""
    full = computed.current_rows(form.engagement, [8]).filter(
        data__system_id=system_id, data__purpose=FULL_BACKUP
    )
    return list(full.values_list("data", flat=True))


def full_backup_hint() -> str:
    """How a 交接全备份 can stand in for the 改密前备份, for a message."""
    return _("(or a %(full)s of both %(objects)s)") % {
        "full": FULL_BACKUP,
        "objects": "、".join(FULL_BACKUP_MUST_COVER),
    }


def _gate_permissions(form: Form, data: dict[str, Any]) -> None:
    """第二十六条第3项: 在核查各系统用户及其权限前，应备份用户权限配置文件."""
    backup = _referenced(form, "pre_backup_ref", data, 8)
    system_id = _as_int(data.get("system_id"))
    if backup is None or not covers_permission_review([backup.data], system_id):
        raise _missing_backup(form, data, form.register_no, PERMISSION_BACKUP, "第二十六条第3项")
    if form.register_no == 13:
        _backup_before(form, data, backup, "done_at")


def _gate_t37(form: Form, data: dict[str, Any]) -> None:
    """第三十一条第7项 (参数备份): a data maintenance record points at the 表29 backup taken before it."""
    _t29_backup(form, data)


def _t29_backup(form: Form, data: dict[str, Any]) -> Row:
    """第三十一条第7项: the row's 表29 backup (its pre_backup_ref), which must be of the row's system; 表37's
    维护前备份 and 表30's 变更前备份 alike."""
    backup = _referenced(form, "pre_backup_ref", data, 29)
    system_id = _as_int(data.get("system_id"))
    if backup is None or backup.data.get("system_id") != system_id:
        system = _system_name(form, system_id)
        raise RuleViolation(
            _(
                "%(column)s must be a 表29 row of %(system)s (第三十一条第7项). Record the backup in 表29 at "
                "%(site)s for %(system)s first, then choose it here."
            )
            % {
                "column": _label(form.register_no, "pre_backup_ref"),
                "system": system,
                "site": form.site.name,
            },
            field="pre_backup_ref",
            register_no=29,
            site_id=form.site_id,
            system_id=system_id,
        )
    return backup


def _missing_backup(
    form: Form, data: dict[str, Any], register_no: int, purpose: str, article: str, extra: str = ""
) -> RuleViolation:
    system_id = _as_int(data.get("system_id"))
    return RuleViolation(
        _(
            "%(column)s must be a readable 表8 row of %(system)s with the purpose %(purpose)s %(extra)s "
            "(%(article)s). Create it in 表8 at %(site)s for %(system)s first, then choose it here."
        )
        % {
            "column": _label(register_no, "pre_backup_ref"),
            "system": _system_name(form, system_id),
            "purpose": purpose,
            "extra": extra,
            "article": article,
            "site": form.site.name,
        },
        field="pre_backup_ref",
        register_no=8,
        site_id=form.site_id,
        system_id=system_id,
    )


def _backup_before(form: Form, data: dict[str, Any], backup: Row | None, key: str) -> None:
    """The backup must have ended before the change it protects began."""
    if backup is None or not backup.data.get("ended_at") or not data.get(key):
        return
    if calendar.local(backup.data["ended_at"]) > calendar.local(data[key]):
        raise RuleViolation(
            _(
                "The backup (表8 row %(seq)d of %(form)s) ended at %(ended)s, after the change at %(at)s: "
                "back up first."
            )
            % {
                "seq": backup.seq,
                "form": backup.form.form_no,
                "ended": backup.data["ended_at"],
                "at": data[key],
            },
            field=key,
            register_no=8,
            site_id=form.site_id,
            system_id=_as_int(data.get("system_id")),
        )


BACKUP_GATES = {10: _gate_t10, 11: _gate_permissions, 13: _gate_permissions, 37: _gate_t37}


# Exception closure (第二十八条) ------------------------------------------------------------------------------


def exception_refs(data: dict[str, Any]) -> list[int]:
    """The 表39 entries a row links in 异常."""
    refs = data.get("exception_refs")
    return (
        [pk for pk in (_as_int(value) for value in refs) if pk is not None] if isinstance(refs, list) else []
    )


def reported_to_tech_group(entry: dict[str, Any]) -> bool:
    """第二十八条: a 表39 entry is reported to 技术组 once 上报技术组 is filled."""
    return bool(entry.get("reported_tg_at"))


def exception_unclosed(register_no: int, data: dict[str, Any], reported: Container[int]) -> str:
    """第二十八条 for one row: the column that makes it failed or rolled back while it links no 表39 entry, or
    one not yet reported to 技术组 (``reported`` holds the reported entries); "" when the row is closed."""
    reason = computed.row_failed(register_no, data)
    refs = exception_refs(data)
    if reason and (not refs or not all(pk in reported for pk in refs)):
        return reason
    return ""


def _exception_links(form: Form, row: Row) -> None:
    """Each 表39 entry a row links has been reported to 技术组. Checked when the form is submitted, not when
    the row is written: a machine (the fixity import) links a draft 表39 entry that a person completes."""
    key = "exception_refs"
    for pk in exception_refs(row.data):
        entry = _referenced(form, key, {key: pk}, catalogue.FAULT_RISK_LOG)
        if entry is not None and not reported_to_tech_group(entry.data):
            raise RuleViolation(
                _("表39 entry %(no)s has not been reported to 技术组 yet (上报技术组 is empty; 第二十八条).")
                % {"no": entry.data.get("risk_no", pk)},
                field=key,
                register_no=catalogue.FAULT_RISK_LOG,
                site_id=entry.form.site_id,
            )


def _exceptions_closed(form: Form, rows: list[Row]) -> None:
    """第二十八条: every failed or rolled-back row ends with a 表39 entry reported to 技术组."""
    unlinked = []
    for row in rows:
        _exception_links(form, row)
        reason = computed.row_failed(form.register_no, row.data)
        if reason and not exception_refs(row.data):
            unlinked.append(_("row %(seq)d (%(column)s)") % {"seq": row.seq, "column": reason})
    if unlinked:
        raise RuleViolation(
            _(
                "These rows failed or were rolled back and link no 表39 entry: %(rows)s. Register each in 表39 "
                "at %(site)s, report it to 技术组, and choose it in 异常 (第二十八条)."
            )
            % {"rows": "; ".join(unlinked), "site": form.site.name},
            field="exception_refs",
            register_no=catalogue.FAULT_RISK_LOG,
            site_id=form.site_id,
        )


def _shared_kept(data: dict[str, Any]) -> None:
    """第二十六条第3项 C 「用户设置采用专人专户」: a shared or not personal account kept says why."""
    shared = data.get("user_status") == "共用" or data.get("dedicated") is False
    if shared and data.get("action") == "保留" and not data.get("keep_reason"):
        raise RuleViolation(
            _(
                "表11: the account is shared or not personal (状态 共用 or 专人专户 否) and is kept (第二十六条第3项 "
                "C: 专人专户). Change it (改为专人专户, 建替代用户, 停用) or give the reason in 保留理由."
            ),
            field="keep_reason",
            register_no=11,
        )


def _capa_effective(data: dict[str, Any]) -> None:
    """第三十条 「消除系统隐患」 (表40 「无效 reopens」): a corrective action verified 无效 is not closed."""
    if data.get("closed") is True and data.get("verify_result") == "无效":
        raise RuleViolation(
            _(
                "表40 关闭 is 是 but 验证结果 is 无效: an action that did not work is not closed (第三十条, "
                "消除系统隐患). Set 关闭 to 否 and record the new action, or record the verification that it "
                "worked."
            ),
            field="closed",
            register_no=40,
        )


# Half-year rule of 表5 (第二十五条第3项) -------------------------------------------------------------------------


def half_year_missing(*, form: Form, rows: list[Row] | None = None) -> list[Person]:
    """The site's IT staff who left within the half year before 处置日 and have no row in this 表5 form."""
    if rows is None:
        rows = list(form.rows.filter(is_current=True))
    listed = {_as_int(row.data.get("person_id")) for row in rows}
    start, end = computed.half_year_window(form.engagement)
    leavers = Person.objects.filter(
        engagement=form.engagement,
        site=form.site,
        party=Party.FIRM_IT,
        employment=Employment.LEFT,
        leave_date__gte=start,
        leave_date__lte=end,
    ).order_by("leave_date", "pk")
    return [person for person in leavers if person.pk not in listed]


def _half_year(form: Form, rows: list[Row]) -> None:
    missing = half_year_missing(form=form, rows=rows)
    if missing:
        start, end = computed.half_year_window(form.engagement)
        names = "、".join(f"{p.name}（{p.leave_date:%Y-%m-%d}）" for p in missing)
        raise RuleViolation(
            _(
                "表5 must include the IT staff who left in the half year before the disposal date "
                "(%(start)s to %(end)s, 第二十五条第3项). Missing at %(site)s: %(names)s. Add a row for each."
            )
            % {"start": start, "end": end, "site": form.site.name, "names": names},
            field="person_id",
            register_no=5,
            site_id=form.site_id,
        )


# Trading hours (第三十一条第3、9项) ---------------------------------------------------------------------------


def _declared_hours(data: dict[str, Any], start_key: str, end_key: str | None) -> bool:
    """交易时段内 as the times say; refuses a row that says 否 for work inside a session."""
    start = data.get(start_key)
    computed_hours = start is not None and calendar.in_trading_hours(
        start, data.get(end_key) if end_key else None
    )
    if computed_hours and data.get("in_trading_hours") is False:
        raise RuleViolation(
            _(
                "%(start)s falls within trading hours on a trading day (9:15–11:30, 13:00–15:00): set 交易时段内 "
                "to 是 and attach 技术组审批 (第三十一条第3项), or do the work outside trading hours."
            )
            % {"start": start},
            field="in_trading_hours",
        )
    return computed_hours or data.get("in_trading_hours") is True


# 第三十一条第8项 「加强值班管理，作好实时监控」: the duty desk's own work goes on while the market is open.
WATCHING_KINDS = frozenset({"开市前检查", "日常巡检", "收市/清算", "监控告警"})


def _trading_hours_30(data: dict[str, Any]) -> None:
    """第三十一条第3项 bans direct database work and parameter changes during trading, except fault handling
    approved by 技术组; monitoring and inspections (第三十一条第8项) are not banned."""
    if not _declared_hours(data, "start", "end") or data.get("kind") in WATCHING_KINDS:
        return
    if data.get("kind") == "故障处理":
        if not data.get("tg_approval"):
            raise RuleViolation(
                _(
                    "Fault handling during trading hours needs 技术组's approval (第三十一条第3项): attach it in "
                    "技术组审批."
                ),
                field="tg_approval",
            )
        return
    raise RuleViolation(
        _(
            "During trading hours only fault handling approved by 技术组 is allowed (第三十一条第3项): "
            "schedule %(kind)s outside 9:15–11:30 and 13:00–15:00."
        )
        % {"kind": data.get("kind")},
        field="kind",
    )


def _change_30(form: Form, data: dict[str, Any]) -> None:
    """第三十一条第5项: a go-live is approved by 技术组 (its approval attached, with its time) before it starts;
    第三十一条第7项: a parameter change or a go-live names the 表29 backup of its system taken before it."""
    kind = data.get("kind")
    if kind == "升级/上线":
        if not data.get("tg_approval"):
            raise RuleViolation(
                _("A go-live needs 技术组's approval (第三十一条第5项): attach it in 技术组审批."),
                field="tg_approval",
            )
        approved, started = data.get("approved_at"), data.get("start")
        if approved and started and calendar.local(approved) > calendar.local(started):
            raise RuleViolation(
                _(
                    "The go-live started at %(start)s, before 技术组 approved it at %(approved)s: a system goes "
                    "live only once approved (第三十一条第5项)."
                )
                % {"start": started, "approved": approved},
                field="approved_at",
            )
    if kind not in ("参数/配置变更", "升级/上线"):
        return
    backup = _t29_backup(form, data)
    taken, started = backup.data.get("backed_up_at"), data.get("start")
    if taken and started and calendar.local(taken) > calendar.local(started):
        raise RuleViolation(
            _(
                "The backup (表29 row %(seq)d of %(form)s) was taken at %(taken)s, after the change began at "
                "%(start)s: back up first (第三十一条第7项)."
            )
            % {"seq": backup.seq, "form": backup.form.form_no, "taken": taken, "start": started},
            field="pre_backup_ref",
            register_no=29,
            site_id=form.site_id,
            system_id=_as_int(data.get("system_id")),
        )


def _trading_hours_37(data: dict[str, Any]) -> None:
    """第三十一条第3、9项: no bulk queries while the market is open. Other work then is fault handling approved
    by 技术组, which the columns require (技术组审批, and 故障登记 checked as a 表39 reference)."""
    if not _declared_hours(data, "done_at", None):
        return
    if data.get("kind") == "批量查询统计":
        raise RuleViolation(
            _(
                "Bulk queries and statistics on head-office data are not allowed while the market is open "
                "(第三十一条第9项): run them after 15:00 or before 9:15."
            ),
            field="kind",
        )

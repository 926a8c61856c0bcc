"""Trading hours (第三十一条第3、9项): changes of 表30 and work of 表37 outside the
exchanges' sessions, unless declared."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from handover.core import calendar
from handover.registers.models import Form
from handover.registers.rules.backups import _t29_backup
from handover.registers.rules.base import RuleViolation, _as_int


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

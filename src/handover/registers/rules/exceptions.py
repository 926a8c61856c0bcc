"""Exception closure (第二十八条): rows link existing 表39 entries, reported to 技术组
before the form is submitted; 表11's shared accounts and 表40's CAPA."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from django.utils.translation import gettext as _

from handover.registers import catalogue, computed
from handover.registers.models import Form, Row
from handover.registers.rules.base import RuleViolation, _as_int, _referenced


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

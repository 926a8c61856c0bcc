"""Backup gates (第二十六条第2、3项, 第三十一条第7项): 表10 needs its 表8 改密前备份, 表11 and 表13
their 权限核查前备份, 表37 its 表29 backup."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from handover.core import calendar
from handover.registers import computed
from handover.registers.models import Form, Row
from handover.registers.rules.base import (
    CHANGE_BACKUP,
    FULL_BACKUP,
    FULL_BACKUP_MUST_COVER,
    PERMISSION_BACKUP,
    RuleViolation,
    _as_int,
    _label,
    _referenced,
    _system_name,
)


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

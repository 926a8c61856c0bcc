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

One module per sub-domain (review §10.7); every name stays importable from ``handover.registers.rules``.
"""

from __future__ import annotations

from handover.registers.rules.backups import (
    BACKUP_GATES,
    covers_password_change,
    covers_permission_review,
    full_backup_hint,
    usable_backup,
)
from handover.registers.rules.base import (
    CHANGE_BACKUP,
    FULL_BACKUP,
    FULL_BACKUP_MUST_COVER,
    PERMISSION_BACKUP,
    RuleViolation,
    lookups_cached,
    memoised,
)
from handover.registers.rules.checks import check_form, check_row, prepare_row
from handover.registers.rules.exceptions import exception_refs, exception_unclosed, reported_to_tech_group
from handover.registers.rules.staff import half_year_missing
from handover.registers.rules.trading_hours import WATCHING_KINDS

__all__ = [
    "BACKUP_GATES",
    "CHANGE_BACKUP",
    "FULL_BACKUP",
    "FULL_BACKUP_MUST_COVER",
    "PERMISSION_BACKUP",
    "WATCHING_KINDS",
    "RuleViolation",
    "check_form",
    "check_row",
    "covers_password_change",
    "covers_permission_review",
    "exception_refs",
    "exception_unclosed",
    "full_backup_hint",
    "half_year_missing",
    "lookups_cached",
    "memoised",
    "prepare_row",
    "reported_to_tech_group",
    "usable_backup",
]

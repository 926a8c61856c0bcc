"""Where other apps plug their checks into the registers without the registers importing them.

The vault depends on the registers (its entries belong to a register's account), so the registers cannot
import the vault. Like the workflow's step gates (workflow/gates.py), an app adds its hooks in its
``AppConfig.ready``:

- a row check runs in ``rules.check_row`` on every row written, typed, imported or sent to the API, after
  the row's columns are valid; it raises ``rules.RuleViolation`` naming the column (the vault's: a 保管引用
  that says 密码保管系统 names an existing entry, vault/references.py);
- a clock says what time it is (the workflow's, which tests and the demo set);
- a custody reference says what a register's 保管引用 names an account's secret by, or "" if no app holds
  it (the demo's 表10 rows name the demo vault's entries this way);
- a "form signed" callback runs once a form's last footer signature is committed, with the form's id (the
  package's annex store exports the signed version then, reports/services/annexes.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils import timezone

if TYPE_CHECKING:
    from handover.registers.models import Form

RowCheck = Callable[["Form", dict[str, Any]], None]
CustodyReference = Callable[[int], str]

ROW_CHECKS: list[RowCheck] = []
CUSTODY_REFERENCES: list[CustodyReference] = []
# The clock the registers read "now" from (plausibility.py: no work done in the future); the workflow plugs
# its own in, which tests and the demo set, so the registers and the workflow agree on the time.
CLOCKS: list[Callable[[], dt.datetime]] = []


# What other apps do once a form is signed, after the commit (a callback gets the form's id).
FORM_SIGNED: list[Callable[[int], None]] = []


def form_signed_register(callback: Callable[[int], None]) -> None:
    """Add a "form signed" callback once."""
    if callback not in FORM_SIGNED:
        FORM_SIGNED.append(callback)


def form_signed(form_id: int) -> None:
    """Tell every app that form ``form_id`` is now signed (called after the commit)."""
    for callback in FORM_SIGNED:
        callback(form_id)


# Which (site, register) lines of 表24 the workflow's same-day feedback covers (第二十七条第2项).
FEEDBACK_SOURCES: list[Callable[[int], set[tuple[int, int]]]] = []


def feedback_source_register(source: Callable[[int], set[tuple[int, int]]]) -> None:
    """Add the workflow's answer: for an engagement id, the (site, register) pairs it recorded feedback for."""
    if source not in FEEDBACK_SOURCES:
        FEEDBACK_SOURCES.append(source)


def fed_back(engagement_id: int) -> set[tuple[int, int]]:
    """The (site, register) pairs whose lateness the site reported the same day (第二十七条第2项)."""
    return {pair for source in FEEDBACK_SOURCES for pair in source(engagement_id)}


def clock_register(now: Callable[[], dt.datetime]) -> None:
    """Name the clock the registers read (the last one registered wins)."""
    if now not in CLOCKS:
        CLOCKS.append(now)


def clock() -> dt.datetime:
    """Now, by the registered clock, or the real time."""
    return CLOCKS[-1]() if CLOCKS else timezone.now()


def row_check_register(check: RowCheck) -> None:
    """Add a row check once (an app's ``ready`` may run more than once in tests)."""
    if check not in ROW_CHECKS:
        ROW_CHECKS.append(check)


def custody_reference_register(lookup: CustodyReference) -> None:
    """Add a custody reference lookup once."""
    if lookup not in CUSTODY_REFERENCES:
        CUSTODY_REFERENCES.append(lookup)


def custody_reference(account_id: int) -> str:
    """The reference under which an app keeps the secret of account ``account_id``, or ""."""
    return next((found for lookup in CUSTODY_REFERENCES if (found := lookup(account_id))), "")

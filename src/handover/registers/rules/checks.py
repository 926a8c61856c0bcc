"""The entry points: ``prepare_row`` and ``check_row`` on every row written, ``check_form`` when a form is submitted."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from handover.registers import catalogue, computed, hooks, plausibility
from handover.registers.models import Form
from handover.registers.rules.backups import BACKUP_GATES
from handover.registers.rules.base import RuleViolation, _as_int, _register_refs
from handover.registers.rules.exceptions import _capa_effective, _exceptions_closed, _shared_kept
from handover.registers.rules.staff import _half_year
from handover.registers.rules.trading_hours import _change_30, _trading_hours_30, _trading_hours_37


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

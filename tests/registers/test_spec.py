"""One declaration per register (review §10.4): what the engine needs to know of 表N is read from its
RegisterSpec, and "frozen" (signed or archived) is one notion."""

from __future__ import annotations

import pytest

from handover.registers import catalogue
from handover.registers.models import FROZEN_STATES, Form, FormState


def test_the_spec_says_which_registers_are_computed_and_annexed():
    computed = [spec.number for spec in catalogue.REGISTERS if spec.computed]
    assert computed == [catalogue.STAFF_SUMMARY, catalogue.HANDOVER_SUMMARY] == [6, 24]
    annexed = [spec.number for spec in catalogue.REGISTERS if spec.annexed]
    assert annexed == [*range(5, 24), 39] and catalogue.FAULT_RISK_LOG == 39
    assert not catalogue.get(catalogue.HANDOVER_SUMMARY).annexed
    assert catalogue.get(catalogue.DAILY_REPORT).name_zh == "信息技术日报表"


def test_the_spec_carries_its_columns_header_and_natural_key():
    spec = catalogue.get(8)
    assert spec.columns == catalogue.columns(8) and spec.columns
    assert spec.header == catalogue.header_fields(8)
    keys = {column.key for column in spec.columns}
    assert set(spec.natural_key) <= keys


@pytest.mark.parametrize("state", list(FormState))
def test_frozen_is_signed_or_archived(state):
    assert Form(state=state).is_frozen == (state in (FormState.SIGNED, FormState.ARCHIVED))
    assert (state in FROZEN_STATES) == Form(state=state).is_frozen

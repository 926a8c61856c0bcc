"""The register list's full-text search over the rows' values (a column the database keeps) and 备注:
Chinese and ASCII, any case, a corrected row found by its new values only; on PostgreSQL the trigram indexes
serve the condition the selector writes."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from handover.org.models import Role
from handover.registers import selectors, services
from handover.registers.models import Row
from tests.factories import t8_values


@pytest.fixture
def rows(world):
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it_a")
    form = services.form_create(
        actor=firm_it,
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        form_date=date(2026, 12, 1),
    )
    base = t8_values(world.engagement, world.branch_a)
    for media_no, remarks in (("HD-甲-001", ""), ("hd-乙-002", "介质存放于保险柜B"), ("HD-丙-003", "")):
        services.row_add(actor=firm_it, form=form, data={**base, "media_no": media_no}, remarks=remarks)
    return firm_it


def found(world, user, query):
    qs = selectors.row_list(
        user=user, engagement=world.engagement, filters=selectors.RowFilters(register_no=8, q=query)
    )
    return sorted(row.data["media_no"] for row in qs)


def test_the_search_finds_chinese_and_ascii_values_in_any_case_and_remarks(world, rows):
    assert found(world, rows, "乙") == ["hd-乙-002"]
    assert found(world, rows, "hd-丙") == ["HD-丙-003"]
    assert found(world, rows, "HD-") == ["HD-丙-003", "HD-甲-001", "hd-乙-002"]
    assert found(world, rows, "保险柜B") == ["hd-乙-002"]  # 备注
    assert found(world, rows, "没有这个") == []


def test_a_corrected_row_is_found_by_its_new_values_only(world, rows):
    row = Row.objects.get(is_current=True, data__media_no="HD-甲-001")
    services.row_update(actor=rows, row=row, data={**row.data, "media_no": "HD-丁-004"})
    assert found(world, rows, "甲") == []
    assert found(world, rows, "丁") == ["HD-丁-004"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram indexes are PostgreSQL's")
def test_on_postgresql_the_trigram_indexes_serve_the_search_condition(world, rows):
    qs = selectors._search(Row.objects.all(), "HD-丙")
    with connection.cursor() as cursor:
        # A table this small would be read whole (or along another index); forbid both, bitmaps remain.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = qs.explain()
    assert "registers_row_search_trgm" in plan and "registers_row_remarks_trgm" in plan, plan

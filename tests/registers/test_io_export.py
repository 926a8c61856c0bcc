"""Exports: the frame with its signatures, what each person may export, text never a formula, the audit event."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import PermissionDenied
from handover.org.models import Role
from handover.registers import catalogue, services
from handover.registers.io import exporting, importing
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, Row
from tests.registers.io_support import Scenery, fill_template, read_calamine, valid_row


@pytest.fixture
def scenery(world):
    return Scenery(world)


def _index(number, key):
    return 1 + [c.key for c in catalogue.columns(number)].index(key)


def _form(scenery, number, rows, site=None):
    world = scenery.world
    result = importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=site or world.branch_a,
        register_no=number,
        filename="f.xlsx",
        content=fill_template(template_bytes(number), rows, {"日期": "2026-12-01"}),
    )
    return Form.objects.get(form_no=result.form_no)


def _export(actor, scenery, number, fmt="xlsx", **kwargs):
    out = io.BytesIO()
    summary = exporting.register_export(
        actor=actor, engagement=scenery.world.engagement, register_no=number, fmt=fmt, out=out, **kwargs
    )
    return summary, out.getvalue()


def test_signatures_appear_on_their_rows_and_in_the_footer(scenery, world):
    form = _form(scenery, 8, [valid_row(8, scenery)])
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a, username="zhang")
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a, username="li")
    row = Row.objects.get(form=form)
    services.row_sign(actor=firm_it, row=row, kind="executor")
    services.row_sign(actor=onsite, row=row, kind="supervisor")
    services.form_submit(actor=firm_it, form=form)
    services.form_sign(actor=onsite, form=form)
    _summary, xlsx = _export(system("test"), scenery, 8, form=form)
    table = read_calamine(xlsx)
    header = table[2]
    assert header[-2:] == ["执行签字", "监督签字"]
    assert table[3][-2].startswith("zhang ") and table[3][-1].startswith("li ")
    footer = {cells[0]: cells[1:3] for cells in table[5:] if cells and cells[0]}
    assert footer["现场技术岗位"][0] == "li" and footer["现场技术岗位"][1].startswith("20")
    assert footer["被托管技术方"] == ["", ""]
    # UX review M2: the sheet names the zone of its times once, after the footer (an import stops before it).
    zone = [cells[0] for cells in table[5:] if cells and ("Beijing" in cells[0] or "北京" in cells[0])]
    assert len(zone) == 1
    assert importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        filename="again.xlsx",
        content=_export(system("test"), scenery, 8, form=form)[1],
    )


def test_text_that_looks_like_a_formula_stays_text(scenery):
    row = valid_row(18, scenery)
    row[_index(18, "summary")] = '=HYPERLINK("http://x","点我")'
    row[_index(18, "location")] = "+86 柜子"
    form = _form(scenery, 18, [row])
    _summary, xlsx = _export(system("test"), scenery, 18, form=form)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).worksheets[0]
    cell = sheet.cell(4, 1 + _index(18, "summary"))  # 序号 is the first column
    assert (cell.data_type, cell.value) == ("s", '=HYPERLINK("http://x","点我")'), [c.value for c in sheet[4]]
    _summary, csv_bytes = _export(system("test"), scenery, 18, "csv", form=form)
    cells = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))[3]
    assert cells[_index(18, "summary")] == '\'=HYPERLINK("http://x","点我")'
    assert cells[_index(18, "location")] == "'+86 柜子"
    again = importing.register_import(
        actor=system("test"),
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=18,
        filename="back.csv",
        content=csv_bytes,
    )
    assert again.unchanged == [1]
    assert Row.objects.get(form=form).data["summary"].startswith("=HYPERLINK")


def test_a_register_export_holds_only_the_sites_the_person_may_read(scenery, world):
    _form(scenery, 20, [valid_row(20, scenery)])
    _form(scenery, 20, [valid_row(20, scenery)], site=world.branch_b)
    tech = world.login_with(Role.TECH_GROUP)
    firm_b = world.login_with(Role.FIRM_IT, site=world.branch_b)
    everything, _ = _export(tech, scenery, 20)
    only_b, xlsx = _export(firm_b, scenery, 20)
    assert len(everything.forms) == 3 and everything.rows == 3  # 甲 and 乙, and the scenery's 甲 form
    assert only_b.forms == ["BB-T20-20261201-001"] and only_b.rows == 1
    assert "乙营业部（BB）" in read_calamine(xlsx)[1]
    with pytest.raises(PermissionDenied):
        _export(world.login_with(Role.OBSERVER), scenery, 20)
    with pytest.raises(PermissionDenied):
        _export(firm_b, scenery, 20, form=Form.objects.get(form_no="BA-T20-20261201-001"))


def test_a_filtered_list_exports_its_rows_only_and_is_audited(scenery, world):
    rows = [valid_row(38, scenery, n) for n in (1, 2, 3)]
    for n, row in enumerate(rows):
        row[_index(38, "period")] = f"2026-W{n + 1}"
        row[_index(38, "infections")] = n
    form = _form(scenery, 38, rows)
    picked = Row.objects.filter(form=form, data__infections__gte=1)
    summary, xlsx = _export(system("test"), scenery, 38, rows=picked)
    assert summary.rows == 2 and summary.forms == [form.form_no]
    data = [cells for cells in read_calamine(xlsx)[3:] if cells and isinstance(cells[0], float | int)]
    assert [int(cells[0]) for cells in data] == [2, 3]
    event = Event.objects.filter(action="registers.export").latest("seq")
    assert event.after == {
        "register": 38,
        "format": "xlsx",
        "forms": [form.form_no],
        "form_count": 1,
        "rows": 2,
        "filtered": True,
    }
    assert event.actor_username == "system:test"


def test_an_empty_register_exports_its_blank_frame(scenery):
    summary, xlsx = _export(system("test"), scenery, 24, site=scenery.world.branch_b)
    assert summary.rows == 0 and summary.forms == []
    assert read_calamine(xlsx)[0][0] == "表24：交接日信息技术工作交接汇总表"


def test_a_pdf_of_too_many_rows_is_refused_before_anything_is_recorded(scenery, monkeypatch):
    from handover.core.errors import DomainError

    rows = [valid_row(38, scenery, n) for n in (1, 2)]
    rows[1][_index(38, "period")] = "2026-W2"
    form = _form(scenery, 38, rows)
    monkeypatch.setattr(exporting, "MAX_PDF_ROWS", 1)
    events = Event.objects.count()
    with pytest.raises(DomainError, match="xlsx"):
        _export(system("test"), scenery, 38, "pdf", form=form)
    assert Event.objects.count() == events

"""Import refusals: every problem named by row, column and reason, in Chinese, and nothing written."""

from __future__ import annotations

import gc
import io
from datetime import date, timedelta

import openpyxl
import pytest
from django.utils import translation

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import PermissionDenied
from handover.org.models import Role
from handover.registers import catalogue, services
from handover.registers.io import importing
from handover.registers.io.selectors import import_error_file, import_progress
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, FormState, ImportState, Row
from handover.registers.tasks import import_start
from tests.registers.io_support import Scenery, fill_template, valid_row


@pytest.fixture
def scenery(world):
    return Scenery(world)


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def _label(number, key):
    return next(c.zh for c in catalogue.columns(number) if c.key == key)


def _index(number, key):
    return 1 + [c.key for c in catalogue.columns(number)].index(key)


def _refused(scenery, number, content, name="filled.xlsx", actor=None):
    before = (Row.objects.count(), Form.objects.count(), Event.objects.count())
    with pytest.raises(importing.ImportRefused) as refused:
        importing.register_import(
            actor=actor or system("test"),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=number,
            filename=name,
            content=content,
        )
    assert (Row.objects.count(), Form.objects.count(), Event.objects.count()) == before
    return refused.value


def _first_line(number):
    """The sheet row number of the template's first data row, as Excel shows it."""
    sheet = openpyxl.load_workbook(io.BytesIO(template_bytes(number))).worksheets[0]
    return 1 + next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")


def _filled(scenery, number, rows):
    return fill_template(template_bytes(number), rows, {"日期": "2026-12-01"})


def test_wrong_headers_name_the_missing_and_the_unknown_column(scenery):
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(11)))
    sheet = book.worksheets[0]
    header_row = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    sheet.cell(header_row, 1 + _index(11, "necessary")).value = "是否必须"
    sheet.cell(header_row, sheet.max_column + 1).value = "使用人"
    out = io.BytesIO()
    book.save(out)
    issues = _refused(scenery, 11, out.getvalue()).issues
    found = {(i.column, i.reason) for i in issues}
    assert ("是否必须", "表11 没有这一列。") in found
    assert ("必要", "表头行缺少这一列。") in found
    assert ("使用人", "这一列出现了两次。") in found
    assert all(i.row is None for i in issues)


def test_another_registers_file_is_refused_by_its_title(scenery):
    issues = _refused(scenery, 11, _filled(scenery, 12, [valid_row(12, scenery)])).issues
    assert any("表12" in i.reason and "表11" in i.reason for i in issues)


def test_bad_enum_missing_required_and_malformed_date_are_each_named(scenery):
    bad_enum = valid_row(11, scenery, 1)
    bad_enum[_index(11, "action")] = "封存"
    missing = valid_row(11, scenery, 2)
    missing[_index(11, "perm_before")] = None
    bad_date = valid_row(11, scenery, 3)
    bad_date[_index(11, "disable_until")] = "2026/13/01"
    unknown_ref = valid_row(11, scenery, 4)
    unknown_ref[_index(11, "user_person_id")] = "无此人"
    refused = _refused(scenery, 11, _filled(scenery, 11, [bad_enum, missing, bad_date, unknown_ref]))
    by_row = {(i.row, i.column): i.reason for i in refused.issues}
    first = _first_line(11)  # rows are numbered as Excel shows them
    assert by_row[(first, _label(11, "action"))].startswith("请从以下选项中选择：保留、停用")
    assert by_row[(first + 1, _label(11, "perm_before"))] == "必填。"
    assert "YYYY-MM-DD" in by_row[(first + 2, _label(11, "disable_until"))]
    assert by_row[(first + 3, _label(11, "user_person_id"))].startswith(
        "未找到：无此人。"
    )  # then what to write
    assert len(refused.issues) == 4
    assert str(refused.issues[0]) == f"第{first}行，处理措施：{by_row[(first, '处理措施')]}"

    book = openpyxl.load_workbook(io.BytesIO(refused.error_workbook()))
    rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert rows[1][0] == "行号" and rows[1][-1] == "错误"
    assert [r[0] for r in rows[2:]] == [first, first + 1, first + 2, first + 3]
    assert "封存" in rows[2] and "处理措施" in rows[2][-1]


def test_a_secret_in_a_remark_is_refused(scenery):
    row = valid_row(18, scenery)
    row[-1] = "root 密码：Abc123456"
    issues = _refused(scenery, 18, _filled(scenery, 18, [row])).issues
    assert [(i.row, i.column) for i in issues] == [(_first_line(18), "备注")]


def _t29_rows(scenery, count):
    rows = [valid_row(29, scenery, n) for n in range(1, count + 1)]
    for n, row in enumerate(rows, start=1):
        row[_index(29, "trade_date")] = (date(1990, 1, 1) + timedelta(days=n)).isoformat()
        row[_index(29, "media_no")] = f"M{n}"
        row[_index(29, "data_class")] = catalogue.columns(29)[_index(29, "data_class") - 1].choices[n % 2].zh
    return rows


def test_ten_thousand_rows_with_one_bad_row_at_the_end_write_nothing(scenery):
    rows = _t29_rows(scenery, 10_000)
    rows[-1][_index(29, "backed_up_at")] = "昨天"
    content = _filled(scenery, 29, rows)
    refused = _refused(scenery, 29, content)
    assert [(i.row, i.column) for i in refused.issues] == [
        (_first_line(29) + 9_999, _label(29, "backed_up_at"))
    ]


def test_the_cycle_collector_rests_while_a_file_is_read_checked_and_written(scenery, monkeypatch):
    # An import's cells and rows are freed by reference counting; full collections walking all of them
    # made the import grow faster than its rows (docs/benchmarks.md).
    rows = _t29_rows(scenery, 50)
    good = _filled(scenery, 29, rows)
    rows[-1][_index(29, "backed_up_at")] = "昨天"
    bad = _filled(scenery, 29, rows)
    collector_on: dict[str, list[bool]] = {}
    for step in ("read_table", "parse", "import_write"):
        real = getattr(importing, step)

        def spy(*args, real=real, step=step, **kwargs):
            collector_on.setdefault(step, []).append(gc.isenabled())
            return real(*args, **kwargs)

        monkeypatch.setattr(importing, step, spy)

    def run(content):
        return importing.register_import(
            actor=system("test"),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=29,
            filename="t29.xlsx",
            content=content,
        )

    assert len(run(good).created) == 50 and gc.isenabled()
    with pytest.raises(importing.ImportRefused):
        run(bad)
    assert gc.isenabled()
    assert collector_on == {"read_table": [False, False], "parse": [False, False], "import_write": [False]}


def test_duplicate_keys_in_one_file_are_named(scenery):
    refused = _refused(
        scenery, 11, _filled(scenery, 11, [valid_row(11, scenery, 1), valid_row(11, scenery, 2)])
    )
    first = _first_line(11)
    assert [(i.row, i.reason) for i in refused.issues] == [
        (first + 1, f"与第{first}行相同；一张表单中每行只出现一次。")
    ]


def test_reimport_updates_by_natural_key_and_leaves_signed_rows(scenery, world):
    first = valid_row(8, scenery, 1)
    second = valid_row(8, scenery, 2)
    second[_index(8, "purpose")] = "改密前备份"
    content = _filled(scenery, 8, [first, second])
    result = importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        filename="t8.xlsx",
        content=content,
    )
    assert result.created == [1, 2]
    form = Form.objects.get(form_no=result.form_no)

    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    services.row_sign(actor=firm_it, row=Row.objects.get(form=form, seq=1), kind="executor")
    first[_index(8, "seal_no")] = "F-9"
    second[_index(8, "seal_no")] = "F-10"
    second[0] = 7  # the 序号 in the file does not decide: the natural key does
    third = valid_row(8, scenery, 3)
    third[_index(8, "purpose")] = "权限核查前备份"
    again = importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        filename="t8.xlsx",
        content=_filled(scenery, 8, [first, second, third]),
    )
    assert (again.form_no, again.created, again.updated, again.signed_untouched) == (
        form.form_no,
        [3],
        [2],
        [1],
    )
    assert Row.objects.get(form=form, seq=2).data["seal_no"] == "F-10"
    assert Row.objects.get(form=form, seq=1).data["seal_no"] != "F-9"
    assert any("已签字" in line for line in again.lines())
    event = Event.objects.filter(action="registers.rows.import").latest("seq")
    assert event.after["updated"]["2"]["after"] == {"seal_no": "F-10"}


def test_a_signed_form_is_not_touched(scenery, world):
    content = _filled(scenery, 18, [valid_row(18, scenery)])
    result = importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        register_no=18,
        filename="t18.xlsx",
        content=content,
    )
    Form.objects.filter(form_no=result.form_no).update(state=FormState.SIGNED)
    row = valid_row(18, scenery)
    row[_index(18, "location")] = "新地点"
    # A file that names the signed form by its 编号: nothing is written, and the result says so.
    again = importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        register_no=18,
        filename="t18.xlsx",
        content=fill_template(template_bytes(18), [row], {"日期": "2026-12-01", "编号": result.form_no}),
    )
    assert again.form_frozen and not again.updated and not again.created
    assert Row.objects.get(form__form_no=result.form_no).data["location"] != "新地点"
    # UX review H2: a file with no 编号 no longer drops its rows into the signed form of its date; they go to a
    # new form of that date.
    fresh = importing.register_import(
        actor=system("test"),
        engagement=world.engagement,
        site=world.branch_a,
        register_no=18,
        filename="t18.xlsx",
        content=_filled(scenery, 18, [row]),
    )
    assert fresh.form_created and fresh.form_no != result.form_no and fresh.created == [1]
    assert Row.objects.get(form__form_no=fresh.form_no).data["location"] == "新地点"


def test_importing_needs_the_right_to_fill_registers_at_the_site(scenery, world):
    finance = world.login_with(Role.FIRM_FINANCE, site=world.branch_a)
    with pytest.raises(PermissionDenied):
        importing.register_import(
            actor=finance,
            engagement=world.engagement,
            site=world.branch_a,
            register_no=18,
            filename="t18.xlsx",
            content=_filled(scenery, 18, [valid_row(18, scenery)]),
        )


def test_a_large_file_runs_as_a_task_with_progress_and_the_failed_rows(scenery, world, monkeypatch):
    from handover.registers.io import jobs

    monkeypatch.setattr(jobs, "BACKGROUND_BYTES", 1)  # every file goes through the task queue
    user = world.login_with(Role.FIRM_IT, site=world.branch_a)
    good = import_start(
        actor=user,
        engagement=world.engagement,
        site=world.branch_a,
        register_no=18,
        filename="t18.xlsx",
        content=_filled(scenery, 18, [valid_row(18, scenery)]),
    )
    progress = import_progress(user=user, job_id=good.pk)
    assert (progress.state, progress.percent, progress.finished) == (ImportState.DONE, 100, True)
    assert progress.result["created"] == [1]

    bad_row = valid_row(18, scenery)
    bad_row[_index(18, "complete")] = "也许"
    bad = import_start(
        actor=user,
        engagement=world.engagement,
        site=world.branch_a,
        register_no=18,
        filename="bad.xlsx",
        content=_filled(scenery, 18, [bad_row]),
    )
    progress = import_progress(user=user, job_id=bad.pk)
    assert progress.state == ImportState.REFUSED and progress.has_error_file
    assert progress.errors == [[_first_line(18), "是否齐全", "请填写“是”或“否”。"]]
    assert import_error_file(user=user, job_id=bad.pk).startswith(b"PK")
    other = world.login_with(Role.FIRM_IT, site=world.branch_b)
    with pytest.raises(Exception, match="导入"):
        import_progress(user=other, job_id=bad.pk)


def test_a_file_for_another_site_or_not_a_spreadsheet_is_refused(scenery):
    content = fill_template(
        template_bytes(18), [valid_row(18, scenery)], {"日期": "2026-12-01", "填报单位/站点": "BB"}
    )
    issues = _refused(scenery, 18, content).issues
    assert [(i.row, i.column) for i in issues] == [(None, "填报单位/站点")]
    assert issues[0].reason == "该文件填报单位为 BB，但正导入到 甲营业部（BA）。"
    with pytest.raises(importing.DomainError, match="既不是 xlsx、xls 文件，也不是 CSV 文件"):
        importing.register_import(
            actor=system("test"),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=18,
            filename="notes.txt",
            content=b"hello",
        )


def test_a_cross_register_rule_refuses_an_imported_row_and_says_where_to_fix_it(scenery):
    # 第二十六条第2项: a password change points at the 改密前备份; here it points at the 权限核查前备份.
    row = valid_row(10, scenery)
    row[_index(10, "pre_backup_ref")] = f"{scenery.target_rows[8][:-2]}#2"
    (issue,) = _refused(scenery, 10, _filled(scenery, 10, [row])).issues
    assert (issue.row, issue.column) == (_first_line(10), _label(10, "pre_backup_ref"))
    assert "第二十六条第2项" in issue.reason and "表8" in issue.reason and "甲营业部" in issue.reason

"""Operator lists (表12) from CSV (GBK or UTF-8) and xlsx: operators as application accounts, administrators
as super-users, locked states, the departed matched by name; bad rows named by line and column."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from handover.connectors import operators, review
from handover.connectors.errors import ParseError
from handover.connectors.findings import Person, ReviewContext, SystemRef
from handover.connectors.model import AccountKind

CSV = """柜员号,姓名,角色,状态,机构,最后登录,密码修改日期
0001,王五,柜员,正常,甲营业部,2026-12-01 09:00:00,2026-11-01
0002,张三,系统管理员,正常,甲营业部,2026-11-30,2026-06-01
0003,李四,复核员,注销,乙营业部,,
"""


def test_a_gbk_csv_with_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "柜员清单.csv"
    path.write_bytes(CSV.encode("gbk"))
    inv = operators.parse(path)
    assert [a.name for a in inv.accounts] == ["0001", "0002", "0003"]
    wang, zhang, li = inv.accounts
    assert wang.kind is AccountKind.APPLICATION and wang.display_name == "王五" and not wang.superuser
    assert wang.last_login is not None and wang.password_changed == date(2026, 11, 1)
    assert zhang.superuser and zhang.groups == ("系统管理员",) and zhang.privileges[0].evidence.line == 3
    assert li.locked and li.login_allowed is False and dict(li.attributes)["branch"] == "乙营业部"
    assert any("GBK" in w for w in inv.warnings) and inv.sources[0].backup is False


def test_an_xlsx_list_and_the_review_of_a_departed_operator(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in CSV.splitlines():
        sheet.append(row.split(","))
    sheet.append([])
    path = tmp_path / "operators.xlsx"
    book.save(path)
    inv = operators.parse(path)
    assert [a.display_name for a in inv.accounts] == ["王五", "张三", "李四"]
    context = ReviewContext(today=date(2026, 12, 5), disposal_day=date(2026, 12, 1),
                            people=(Person("张三", left_on=date(2026, 10, 1)),))  # fmt: skip
    found = {
        (f.rule, f.account, f.severity)
        for f in review.review([(SystemRef("营业部柜台", "counter"), inv)], context)
    }
    assert ("operator_of_departed", "0002", "high") in found and (
        "superuser_equivalent",
        "0002",
        "high",
    ) in found


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("编号,名字\n1,王五\n", 1, "缺少"),
        ("柜员号,姓名\n0001,王五\n,张三\n", 3, "柜员号 列为空"),
        ("柜员号,姓名\n0001,王五\n0001,张三\n", 3, "重复出现"),
        ("柜员号,姓名,最后登录\n0001,王五,昨天\n", 2, "不是日期"),
        ("柜员号,姓名\n", None, "没有任何操作员"),
        ("", None, "文件为空"),
    ],
)
def test_bad_input_names_the_line(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    path = tmp_path / "ops.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        operators.parse(path)
    assert caught.value.line == line and words in caught.value.reason_zh


def test_a_workbook_claiming_a_far_cell_is_read_without_expanding_it(tmp_path: Path) -> None:
    """The review's 1.5 KB far-cell file made a grid reader allocate 1.3 GB: here only the rows present and the
    first 30 columns are read, so the far cell is skipped and the operator above it kept."""
    import zipfile

    from openpyxl import Workbook

    path = tmp_path / "far.xlsx"
    book = Workbook()
    book.active.append(["柜员号", "姓名"])
    book.active.append(["0001", "王五"])
    book.save(path)
    with zipfile.ZipFile(path) as src:
        parts = {n: src.read(n) for n in src.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    sheet = sheet.replace("</sheetData>", far + "</sheetData>")
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in parts.items():
            out.writestr(name, data)
    inv = operators.parse(path)
    assert [a.name for a in inv.accounts] == ["0001"]

"""Scenery and valid cells for the import/export tests, derived from each register's column declarations."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import openpyxl
from python_calamine import CalamineWorkbook

from handover.org.models import OrgType
from handover.registers import catalogue
from handover.registers.columns import Column
from handover.registers.io.refs import register_numbers
from handover.registers.models import Account, Asset, CommunicationLine, Form, InformationSystem, Row
from tests.factories import OrganisationFactory, World

REF_DATE = date(2026, 11, 30)  # the forms references point at; the imports use 2026-12-01


class Scenery:
    """A world with one of every entity a reference may name, and one row in every register at 甲营业部."""

    def __init__(self, world: World) -> None:
        self.world = world
        e, site = world.engagement, world.branch_a
        self.vendor = OrganisationFactory(engagement=e, name="恒生电子", type=OrgType.APP_VENDOR)
        self.system = InformationSystem.objects.create(engagement=e, site=site, name="集中交易系统")
        self.asset = Asset.objects.create(engagement=e, site=site, name="交易主机", hostname="srv01")
        self.asset.systems.add(self.system)
        self.account = Account.objects.create(
            engagement=e,
            system=self.system,
            asset=self.asset,
            layer="操作系统",
            login_name="root",
            account_class="超级用户",
        )
        self.line = CommunicationLine.objects.create(
            engagement=e,
            line_no="L-001",
            purpose="报盘",
            a_site=site,
            b_end="上交所",
            medium="地面",
            role="主",
        )
        self.target_rows: dict[int, str] = {}
        for number in range(1, 42):
            form = Form.objects.create(
                engagement=e, site=site, register_no=number, form_no=f"REF-T{number:02d}", form_date=REF_DATE
            )
            for seq, data in enumerate(self._target_data(number), start=1):
                Row.objects.create(form=form, seq=seq, data=data)
            self.target_rows[number] = f"{form.form_no}#1"

    def _target_data(self, number: int) -> list[dict[str, Any]]:
        """What the rows other rows point at must hold for the cross-register rules (registers.md §4)."""
        system = {"system_id": self.system.pk}
        if number == 8:  # 第二十六条第2、3项: the backups before changing passwords and rights, read back
            backup = {**system, "readable": "通过", "ended_at": "2026-12-01T15:40:00"}
            return [{**backup, "purpose": "改密前备份"}, {**backup, "purpose": "权限核查前备份"}]
        if number == 29:  # 第三十一条第7项: 表37 work follows a backup of the same system
            return [system]
        if number == 39:  # 第二十八条: a linked entry is reported to 技术组
            return [{"reported_tg_at": "2026-11-30T16:00"}]
        return [{}]

    def ref_text(self, column: Column) -> str:
        if column.ref.startswith("T"):
            number = register_numbers(column.ref)[0]
            if number == 8 and "改密" not in column.zh:  # 表11/13 need the 权限核查前备份, row 2
                return f"{self.target_rows[8][:-2]}#2"
            return self.target_rows[number]
        return {
            "site": "BA",
            "person": "甲员工",
            "org": "恒生电子",
            "system": "集中交易系统",
            "asset": "srv01",
            "account": "root@srv01",
            "line": "L-001",
        }[column.ref]


def valid_cell(column: Column, scenery: Scenery) -> Any:
    """A value a person would type into this column, valid under its declaration."""
    kind = column.type
    if column.key == "in_trading_hours":  # the times above are after the close (第三十一条第3项)
        return "否"
    if column.key == "strength_ok":  # 第三十一条第1项: only the vault's measure says 是 (vault/references.py)
        return "否"
    if column.key == "reconnected_at":  # 第二十六条第8项: reconnected only after the offline scan ended
        return "2026-12-01 16:45"
    if kind in ("ref", "refs"):
        text = scenery.ref_text(column)
        return f"{text}、乙员工" if kind == "refs" and column.ref == "person" else text
    return {
        "text": f"文本 {column.key}",
        "ltext": f"较长的说明：{column.zh}，含 =SUM(A1) 之类的文字",
        "att": f"scan-{column.key}.pdf",
        "date": "2026-12-01",
        "dt": "2026-12-01 16:30",  # after the close: 表30/37 trading-hours rules (第三十一条第3项)
        "int": 3,
        "dec": "12.50",
        "enum": column.choices[0].zh if column.choices else "",
        "bool": "是",
    }[kind]


def expected_cell(column: Column, scenery: Scenery) -> Any:
    """What an export writes for ``valid_cell``: numbers as numbers, all else as the text typed."""
    value = valid_cell(column, scenery)
    if column.type == "dec":
        return Decimal(value)
    return value


def fill_template(template: bytes, cells: list[list[Any]], header: dict[str, Any]) -> bytes:
    """Write rows below the header row of a template and values beside header labels, with openpyxl."""
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    header_row = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    for r in range(2, header_row):
        for c in range(1, sheet.max_column + 1):
            label = sheet.cell(r, c).value
            if label in header:
                sheet.cell(r, c + 1).value = header[label]
    for offset, row in enumerate(cells, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(header_row + offset, c)
            cell.value = value
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # typed as text, not as a formula

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def valid_row(number: int, scenery: Scenery, seq: int = 1) -> list[Any]:
    return [seq, *(valid_cell(c, scenery) for c in catalogue.columns(number)), "备注文字"]


def read_calamine(content: bytes) -> list[list[Any]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return [list(r) for r in book.get_sheet_by_index(0).to_python(skip_empty_area=False)]


def read_openpyxl(content: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def same(a: Any, b: Any) -> bool:
    """Cell values equal across readers: numbers by value, empty as empty."""
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b

"""The official frame every register is printed, exported and imported in (registers.md §1, sourced on 表34).

```
表NN：<名称>
编号 | … | 日期 | … | 填报单位/站点 | …          (then one row of the register's own header fields, if any)
序号 | <columns in the specification's order> | 备注 [| 执行签字 | 监督签字 on the ★ registers]
…rows…
现场技术岗位 | name | time     (the footer: one line per signature the register needs)
```

The labels are the official Chinese terms, never translated: the frame is the document the custodian hands
to the working group and the CSRC bureau. Templates, imports and exports all take their layout from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from handover.core.spreadsheet import text_from_cell
from handover.org.models import Role
from handover.registers import catalogue
from handover.registers.columns import Column
from handover.registers.models import SignatureKind

SEQ, REMARKS = "序号", "备注"
FORM_NO, FORM_DATE, FORM_SITE = "编号", "日期", "填报单位/站点"
# 第八条: the two row-level signatures of a ★ register, exported after 备注 and ignored on import.
ROW_SIGNATURE_LABELS: dict[str, str] = {
    SignatureKind.EXECUTOR: "执行签字",
    SignatureKind.SUPERVISOR: "监督签字",
}
# The footer, in the order of 表33 (registers.md §1): 现场技术岗位, 被托管机构财务, 被托管技术方, 技术组审核.
FOOTER_LABELS: dict[str, str] = {
    Role.ONSITE_POST: "现场技术岗位",
    Role.FIRM_FINANCE: "被托管机构财务",
    Role.FIRM_IT: "被托管技术方",
    Role.TECH_GROUP: "技术组审核",
}
# 第二十七条第4项: 技术组 signs 表24 as the one who compiles it (编制), not as a reviewer.
FOOTER_LABEL_OF: dict[tuple[int, str], str] = {
    (24, Role.TECH_GROUP): "技术组编制",
    **{(n, Role.TECH_GROUP): "技术组接收" for n in (1, 2, 3, 4)},
}
LIST_SEPARATOR = "、"


@dataclass(frozen=True)
class Frame:
    """The layout of one register: its title, header fields and the labels of the body's columns."""

    number: int
    title: str
    columns: tuple[Column, ...]
    header_fields: tuple[Column, ...]
    dual_signature: bool

    @property
    def labels(self) -> list[str]:
        """The column header row: 序号, the columns' Chinese labels in order, 备注."""
        return [SEQ, *(c.zh for c in self.columns), REMARKS]

    @property
    def export_labels(self) -> list[str]:
        extra = list(ROW_SIGNATURE_LABELS.values()) if self.dual_signature else []
        return [*self.labels, *extra]


def frame(number: int) -> Frame:
    spec = catalogue.get(number)
    return Frame(
        number=spec.number,
        title=spec.title,
        columns=catalogue.columns(number),
        header_fields=catalogue.header_fields(number),
        dual_signature=spec.dual_signature,
    )


def footer_labels(register_no: int) -> list[tuple[str, str]]:
    """(role, label) of each footer signature line of 表N."""
    from handover.registers.signing import footer_roles

    return [
        (role, FOOTER_LABEL_OF.get((register_no, role), FOOTER_LABELS[role]))
        for role in footer_roles(register_no)
    ]


def is_footer(first_cell: Any) -> bool:
    labels = {*FOOTER_LABELS.values(), *FOOTER_LABEL_OF.values()}
    return isinstance(first_cell, str) and first_cell.strip().rstrip("：:") in labels


def display(column: Column, value: Any) -> Any:
    """A stored (JSON) value as a cell: text for text, dates as YYYY-MM-DD, numbers as numbers, 是/否.

    References are turned into names by ``refs.Labeller`` before this is called.
    """
    if value is None or value == "" or value == []:
        return None
    kind = column.type
    if kind == "bool":
        return "是" if value else "否"
    if kind == "int":
        return int(value)
    if kind == "dec":
        return Decimal(str(value))
    if kind == "dt":
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S").removesuffix(":00")
    if kind == "date":
        return date.fromisoformat(value).isoformat()
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)


def normalise_cell(value: Any) -> Any:
    """A cell as a reader gives it, made uniform: whole floats as int, empty as None, strings stripped."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        value = text_from_cell(value.strip())
        return value or None
    if value == "":
        return None
    return value


def split_list(value: Any) -> list[str]:
    """The items of a multi-valued cell: separated by 、 , ， ; ； or a line break."""
    text = str(value)
    for separator in (",", "，", ";", "；", "\n"):
        text = text.replace(separator, LIST_SEPARATOR)
    return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()]


def row_is_empty(cells: Sequence[Any]) -> bool:
    return all(normalise_cell(cell) is None for cell in cells)

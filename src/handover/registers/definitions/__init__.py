"""The columns of every register, 表1–表41, as data (registers.md §3; DESIGN.md decision 1).

``COLUMNS[n]`` is the body of 表n in the specification's order, which the official export frame keeps.
The engine adds 序号 ``seq`` first and 备注 ``remarks`` last, the common header (编号, 日期, 填报单位/站点,
phase, custodied_org_id) and the signature blocks, so none of those is declared here; nor is the 第八条
row-level dual signature (``sig_exec`` / ``sig_supervise``), which follows the catalogue's flags.
``HEADER_FIELDS[n]`` holds the form-level fields a register has beyond the common header (表1–4's report
period, 表24's disposal date and summary, …).

Conventions beyond registers.md's legend:
- a ``ref`` that may point at one of several registers names them all, ``"T11|T12"``;
- ``note`` starts with "computed:" for values the engine derives, "designed:" where the specification is
  silent and a column or label was added, and "deviation:" where the specification was thin or wrong
  against the guideline and the guideline was followed.
"""

from __future__ import annotations

from handover.registers.columns import Column
from handover.registers.definitions import annex3, annex4, annex5

COLUMNS: dict[int, tuple[Column, ...]] = {**annex3.COLUMNS, **annex4.COLUMNS, **annex5.COLUMNS}
HEADER_FIELDS: dict[int, tuple[Column, ...]] = {
    **annex3.HEADER_FIELDS,
    **annex4.HEADER_FIELDS,
    **annex5.HEADER_FIELDS,
}

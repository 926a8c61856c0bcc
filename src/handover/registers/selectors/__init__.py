"""Reads of register forms, rows, signatures and attachments, limited to what the user may see.

Every page and API endpoint of the registers reads through here. A form, row or file outside the user's
sites is reported as not found (org.selectors does the same), so its existence does not leak.

Row lists page by keyset (seek) on (form, 序号), never by OFFSET and never with a COUNT: the cost of a page
is the same on page 1 and on the last page of a 100,000-row register (tests/registers/test_pages.py asserts
the query count, bench/registers_list_bench.py measures the time).

One module per sub-domain (review §10.7); every name stays importable from ``handover.registers.selectors``.
"""

from __future__ import annotations

from handover.registers.selectors.attachments import attachment_get, attachment_open, column_files
from handover.registers.selectors.common import ENTITY_MODELS, PAGE_SIZE, Reach, reach
from handover.registers.selectors.forms import (
    FormActions,
    form_actions,
    form_get,
    form_list,
    form_versions,
    role_label,
    roles_at,
    signature_kind_label,
)
from handover.registers.selectors.index import AnnexGroup, RegisterCount, register_index
from handover.registers.selectors.refs import ref_choices, ref_labels, register_rows
from handover.registers.selectors.rows import (
    Cursor,
    RowFilters,
    RowHistory,
    RowLine,
    RowPage,
    _search,  # noqa: F401  (kept importable for its tests)
    column_filters,
    filterable_columns,
    row_get,
    row_history,
    row_lines,
    row_list,
    row_page,
    row_signers,
)

__all__ = [
    "ENTITY_MODELS",
    "PAGE_SIZE",
    "AnnexGroup",
    "Cursor",
    "FormActions",
    "Reach",
    "RegisterCount",
    "RowFilters",
    "RowHistory",
    "RowLine",
    "RowPage",
    "attachment_get",
    "attachment_open",
    "column_files",
    "column_filters",
    "filterable_columns",
    "form_actions",
    "form_get",
    "form_list",
    "form_versions",
    "reach",
    "ref_choices",
    "ref_labels",
    "register_index",
    "register_rows",
    "role_label",
    "roles_at",
    "row_get",
    "row_history",
    "row_lines",
    "row_list",
    "row_page",
    "row_signers",
    "signature_kind_label",
]

"""Pages of the registers: one set of views for all 41, driven by the column declarations.

Thin, as org.views: forms give the fields, services decide (and refuse with a reason that lands on the
field it names), selectors read only what the user may see.
"""

from handover.registers.views.completeness import completeness_page
from handover.registers.views.files import (
    form_export,
    import_failed_rows,
    import_job,
    import_page,
    register_template,
    row_export,
)
from handover.registers.views.forms import (
    form_archive,
    form_attach,
    form_correct,
    form_create,
    form_detail,
    form_sign,
    form_submit,
)
from handover.registers.views.lists import form_list, register_index, row_list
from handover.registers.views.rows import (
    attachment_download,
    row_attach,
    row_correct,
    row_create,
    row_detail,
    row_edit,
    row_sign,
)

__all__ = [
    "attachment_download",
    "completeness_page",
    "form_archive",
    "form_attach",
    "form_correct",
    "form_create",
    "form_detail",
    "form_export",
    "form_list",
    "form_sign",
    "form_submit",
    "import_failed_rows",
    "import_job",
    "import_page",
    "register_index",
    "register_template",
    "row_attach",
    "row_correct",
    "row_create",
    "row_detail",
    "row_edit",
    "row_export",
    "row_list",
    "row_sign",
]

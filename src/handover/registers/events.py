"""Audit actions of the registers."""

from django.utils.translation import gettext_lazy as _

FORM_CREATE = "registers.form.create"
FORM_SUBMIT = "registers.form.submit"
FORM_SIGN = "registers.form.sign"
FORM_CORRECT = "registers.form.correct"
FORM_ARCHIVE = "registers.form.archive"
ROW_CREATE = "registers.row.create"
ROW_UPDATE = "registers.row.update"
ROW_SIGN = "registers.row.sign"
ROW_CORRECT = "registers.row.correct"

ACTIONS = {
    FORM_CREATE: _("Register form created"),
    FORM_SUBMIT: _("Register form submitted"),
    FORM_SIGN: _("Register form signed"),
    FORM_CORRECT: _("Register form corrected (new version)"),
    FORM_ARCHIVE: _("Register form archived"),
    ROW_CREATE: _("Register row added"),
    ROW_UPDATE: _("Register row changed"),
    ROW_SIGN: _("Register row signed"),
    ROW_CORRECT: _("Register row corrected (new version)"),
}

ENTITY_CREATE = "registers.entity.create"
ENTITY_UPDATE = "registers.entity.update"

ACTIONS |= {
    ENTITY_CREATE: _("Shared entity created (system, asset, account…)"),
    ENTITY_UPDATE: _("Shared entity changed"),
}

FORM_COMPUTE = "registers.form.compute"
FORM_SEED = "registers.form.seed"

ACTIONS |= {
    FORM_COMPUTE: _("Computed register built (表6 from 表5, 表24 from the handover registers)"),
    FORM_SEED: _("Living ledger seeded from the signed handover-day snapshot"),
}

ROWS_IMPORT = "registers.rows.import"
EXPORT = "registers.export"

ACTIONS |= {
    ROWS_IMPORT: _("Register file imported (rows created and updated)"),
    EXPORT: _("Register exported (xlsx, PDF or CSV)"),
}
ATTACHMENT_ADD = "registers.attachment.add"

ACTIONS |= {ATTACHMENT_ADD: _("Evidence file attached to a register row")}

# audit.naming: a row is named by its form (表8 BR-HZ-T08-… #3 v1).
OBJECT_NAMES_RELATED = {"registers.row": ("form",)}

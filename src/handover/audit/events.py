"""Audit actions of the audit trail itself."""

from django.utils.translation import gettext_lazy as _

CHECKPOINT_WRITE = "audit.checkpoint.write"
EXPORT = "audit.export"
VIEW = "audit.view"
VERIFY = "audit.verify"

ACTIONS = {
    CHECKPOINT_WRITE: _("Audit checkpoint written"),
    EXPORT: _("Audit trail exported"),
    VIEW: _("Audit trail viewed"),
    VERIFY: _("Audit chain verified from the page"),
}

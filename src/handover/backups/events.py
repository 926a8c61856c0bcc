"""Audit actions of backup verification: site keys and imported bundles."""

from django.utils.translation import gettext_lazy as _

SITE_KEY_ENROL = "backups.site_key.enrol"
SITE_KEY_ISSUE = "backups.site_key.issue"
SITE_KEY_REVOKE = "backups.site_key.revoke"
BUNDLE_IMPORT = "backups.bundle.import"
BUNDLE_REFUSE = "backups.bundle.refuse"
TAMPER_FLAG = "backups.tamper.flag"

ACTIONS = {
    SITE_KEY_ENROL: _("Fixity site key enrolled"),
    SITE_KEY_ISSUE: _("Fixity site key issued to a site"),
    SITE_KEY_REVOKE: _("Fixity site key revoked"),
    BUNDLE_IMPORT: _("Fixity bundle imported"),
    BUNDLE_REFUSE: _("Fixity bundle refused"),
    TAMPER_FLAG: _("Signs of tampering: to be reported to the working group at once"),
}

"""Audit actions of the platform's own backup and restore (docs/backup.md)."""

from django.utils.translation import gettext_lazy as _

BACKUP_CREATE = "platform.backup.create"
RESTORE_DONE = "platform.restore.done"

ACTIONS = {
    BACKUP_CREATE: _("Platform backup written"),
    RESTORE_DONE: _("Platform restored from a backup"),
}

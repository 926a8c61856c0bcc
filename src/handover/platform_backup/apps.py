from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlatformBackupConfig(AppConfig):
    name = "handover.platform_backup"
    label = "platform_backup"
    verbose_name = _("The platform's own backup and restore")

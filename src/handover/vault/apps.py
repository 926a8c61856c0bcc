from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VaultAppConfig(AppConfig):
    name = "handover.vault"
    label = "vault"
    verbose_name = _("Vault")

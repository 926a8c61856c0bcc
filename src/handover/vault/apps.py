from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VaultAppConfig(AppConfig):
    name = "handover.vault"
    label = "vault"
    verbose_name = _("Vault")

    def ready(self) -> None:
        # A register's 保管引用 that says 密码保管系统 must name a real entry (references.py); the registers do
        # not import the vault, so the check plugs into their hooks.
        from handover.registers import hooks
        from handover.vault import references

        hooks.row_check_register(references.check_vault_ref)
        hooks.custody_reference_register(references.reference_of_account)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistersConfig(AppConfig):
    name = "handover.registers"
    label = "registers"
    verbose_name = _("Registers")

    def ready(self) -> None:
        # The cross-register rules block workflow steps (registers.md §4, 附件二): see register_gates.py.
        from handover.workflow import gates, register_gates

        for rule in register_gates.RULES:
            gates.register(rule)

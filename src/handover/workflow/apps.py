from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "handover.workflow"
    label = "workflow"
    verbose_name = _("Workflow")

    def ready(self) -> None:
        from handover.core import clock
        from handover.registers import hooks
        from handover.workflow import selectors

        hooks.clock_register(clock.now)
        hooks.feedback_source_register(selectors.feedback_lines)

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate, pre_migrate
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
        pre_migrate.connect(_uninstall_stamp, sender=self, dispatch_uid="workflow.stamp.off")
        post_migrate.connect(_install_stamp, sender=self, dispatch_uid="workflow.stamp")
        hooks.feedback_source_register(selectors.feedback_lines)


def _install_stamp(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """The state stamp's triggers (stamp.py), on every watched table, after each migrate or flush."""
    from handover.workflow import stamp

    stamp.install(connections[using])


def _uninstall_stamp(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """Drop the triggers before a migrate: a migration may drop the stamp's table (migrating back) or move a
    watched table, and a trigger left behind would fail every write to its table. post_migrate puts them back."""
    from handover.workflow import stamp

    stamp.uninstall(connections[using])

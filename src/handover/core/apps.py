from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "handover.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from handover.core import checks  # noqa: F401  (registers the deploy checks)

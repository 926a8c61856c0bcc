from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "handover.core"
    label = "core"
    verbose_name = "Core"

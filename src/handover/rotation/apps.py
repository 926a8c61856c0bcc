from django.apps import AppConfig


class RotationConfig(AppConfig):
    name = "handover.rotation"
    label = "rotation"
    verbose_name = "Rotation"

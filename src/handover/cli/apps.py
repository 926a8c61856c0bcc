from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "handover.cli"
    label = "cli"
    verbose_name = "Command line"

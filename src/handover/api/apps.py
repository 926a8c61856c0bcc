from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "handover.api"
    label = "api"
    verbose_name = "REST API"

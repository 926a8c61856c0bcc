from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "handover.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from handover.audit import catalogue

        catalogue.load_all()

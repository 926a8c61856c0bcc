from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "handover.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from handover.audit import catalogue, roles

        catalogue.load_all()
        post_migrate.connect(roles.grant_app_role, sender=self, dispatch_uid="handover.audit.roles")

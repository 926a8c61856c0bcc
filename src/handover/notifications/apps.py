from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "handover.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from handover.notifications import topics

        topics.discover()

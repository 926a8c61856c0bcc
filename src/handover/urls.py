"""URL map: pages, the API and its schema, the language switch."""

from django.urls import include, path
from django.views.i18n import set_language

from handover.web.access import PUBLIC, needs

urlpatterns = [
    path("", include("handover.web.urls")),
    path("accounts/", include("handover.accounts.urls")),
    path("", include("handover.vault.urls")),
    path("e/", include("handover.org.urls")),
    path("e/", include("handover.backups.urls")),
    path("e/", include("handover.discovery.urls")),
    path("e/", include("handover.rotation.urls")),
    path("e/", include("handover.registers.urls")),
    path("e/", include("handover.reports.urls")),
    path("e/", include("handover.risk.urls")),
    path("audit/", include("handover.audit.urls")),
    path("w/", include("handover.workflow.urls")),
    path("n/", include("handover.notifications.urls")),
    path("api/", include("handover.api.urls")),
    path("i18n/setlang/", needs(PUBLIC)(set_language), name="set_language"),
]

handler400 = "handover.web.errors.bad_request"
handler403 = "handover.web.errors.forbidden"
handler404 = "handover.web.errors.not_found"
handler500 = "handover.web.errors.server_error"

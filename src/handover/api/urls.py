from typing import Any

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from handover.api import views
from handover.backups import api as backups_api
from handover.discovery import api as discovery_api
from handover.registers import api as registers_api
from handover.risk import api as risk_api
from handover.risk import assessment_api as risk_assessment_api
from handover.risk import capacity_api as risk_capacity_api
from handover.risk import changes_api as risk_changes_api
from handover.risk import privacy_api as risk_privacy_api
from handover.risk import suppliers_api as risk_suppliers_api
from handover.risk import vulns_api as risk_vulns_api
from handover.rotation import api as rotation_api
from handover.vault import api as vault_api
from handover.workflow import api as workflow_api


class Router(DefaultRouter):
    """Object ids in URLs are numbers unless a viewset says otherwise (``lookup_value_regex``):
    ``/register-rows/abc/`` or ``/register-forms/null,null/submit/`` is a 404 from the URL map, and no view
    ever calls ``int()`` on text (review L1)."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        field = getattr(viewset, "lookup_field", "pk")
        kwarg = getattr(viewset, "lookup_url_kwarg", None) or field
        value = getattr(viewset, "lookup_value_regex", ID)
        return f"(?P<{lookup_prefix}{kwarg}>{value})"


ID = r"[0-9]+"
router = Router()
router.include_format_suffixes = False
router.APIRootView = views.RootView
router.register("engagements", views.EngagementViewSet, basename="engagement")
router.register(r"engagements/(?P<code>[-a-zA-Z0-9_]+)/sites", views.SiteViewSet, basename="site")
router.register(
    r"engagements/(?P<code>[-a-zA-Z0-9_]+)/organisations", views.OrganisationViewSet, basename="organisation"
)
router.register(r"engagements/(?P<code>[-a-zA-Z0-9_]+)/people", views.PersonViewSet, basename="person")
router.register(r"engagements/(?P<code>[-a-zA-Z0-9_]+)/roles", views.RoleViewSet, basename="role")
router.register(
    r"engagements/(?P<code>[-a-zA-Z0-9_]+)/register-forms",
    registers_api.FormViewSet,
    basename="register-form",
)
router.register(
    r"engagements/(?P<code>[-a-zA-Z0-9_]+)/register-rows", registers_api.RowViewSet, basename="register-row"
)
router.register("audit/events", views.EventViewSet, basename="event")
router.register(
    r"engagements/(?P<code>[-a-zA-Z0-9_]+)/vault/entries",
    vault_api.SecretEntryViewSet,
    basename="vault-entry",
)
router.register(
    r"engagements/(?P<code>[-a-zA-Z0-9_]+)/vault/requests",
    vault_api.RevealRequestViewSet,
    basename="vault-request",
)

WORKFLOW = r"engagements/(?P<code>[-a-zA-Z0-9_]+)/workflow"
router.register(f"{WORKFLOW}/steps", workflow_api.StepViewSet, basename="workflow-step")
router.register(f"{WORKFLOW}/sites", workflow_api.SiteStepsViewSet, basename="workflow-site")
router.register(f"{WORKFLOW}/cases", workflow_api.CaseViewSet, basename="workflow-case")
router.register(f"{WORKFLOW}/summary", workflow_api.SummaryViewSet, basename="workflow-summary")
router.register(
    f"{WORKFLOW}/observer-summary", workflow_api.ObserverSummaryViewSet, basename="workflow-observer-summary"
)
router.register(f"{WORKFLOW}/phase", workflow_api.PhaseViewSet, basename="workflow-phase")
router.register(f"{WORKFLOW}/reports", workflow_api.ReportViewSet, basename="workflow-report")

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(url_name="api:schema"), name="docs"),
    path("engagements/<slug:code>/fixity/keys/", backups_api.SiteKeyView.as_view(), name="fixity-keys"),
    path("engagements/<slug:code>/fixity/bundles/", backups_api.BundleView.as_view(), name="fixity-bundles"),
    path(
        "engagements/<slug:code>/risk/compliance/", risk_api.ComplianceView.as_view(), name="risk-compliance"
    ),
    path("engagements/<slug:code>/risk/deadlines/", risk_api.DeadlinesView.as_view(), name="risk-deadlines"),
    path(
        "engagements/<slug:code>/risk/incidents/", risk_api.IncidentListView.as_view(), name="risk-incidents"
    ),
    path(
        "engagements/<slug:code>/risk/incidents/<int:incident_id>/reports/",
        risk_api.IncidentReportView.as_view(),
        name="risk-incident-reports",
    ),
    path(
        "engagements/<slug:code>/risk/incidents/<int:incident_id>/notices/",
        risk_api.IncidentNoticeView.as_view(),
        name="risk-incident-notices",
    ),
    path(
        "engagements/<slug:code>/risk/incidents/<int:incident_id>/restore/",
        risk_api.IncidentRestoreView.as_view(),
        name="risk-incident-restore",
    ),
    path(
        "engagements/<slug:code>/risk/incidents/<int:incident_id>/regrade/",
        risk_api.IncidentRegradeView.as_view(),
        name="risk-incident-regrade",
    ),
    path(
        "engagements/<slug:code>/risk/incidents/<int:incident_id>/links/",
        risk_api.IncidentLinkView.as_view(),
        name="risk-incident-links",
    ),
    path("engagements/<slug:code>/risk/risks/", risk_api.RiskListView.as_view(), name="risk-risks"),
    path(
        "engagements/<slug:code>/risk/acceptances/",
        risk_api.AcceptanceView.as_view(),
        name="risk-acceptances",
    ),
    path(
        "engagements/<slug:code>/risk/acceptances/approve/",
        risk_api.AcceptanceApproveView.as_view(),
        name="risk-acceptance-approve",
    ),
    path("engagements/<slug:code>/risk/plans/", risk_api.PlanListView.as_view(), name="risk-plans"),
    path("engagements/<slug:code>/risk/drills/", risk_api.DrillListView.as_view(), name="risk-drills"),
    path("vault/status/", vault_api.VaultStatusView.as_view(), name="vault-status"),
    path("", include(discovery_api.urlpatterns)),
    path("", include(rotation_api.urlpatterns)),
    path("", include(risk_vulns_api.urlpatterns)),
    path("", include(risk_suppliers_api.urlpatterns)),
    path("", include(risk_changes_api.urlpatterns)),
    path("", include(risk_capacity_api.urlpatterns)),
    path("", include(risk_privacy_api.urlpatterns)),
    path("", include(risk_assessment_api.urlpatterns)),
    path("", include(router.urls)),
]

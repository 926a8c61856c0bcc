from django.urls import path

from handover.risk.views import pages

app_name = "risk"

urlpatterns = [
    path("<slug:code>/risk/", pages.overview, name="overview"),
    path("<slug:code>/risk/incidents/", pages.incident_list, name="incident_list"),
    path("<slug:code>/risk/incidents/<int:incident_id>/", pages.incident_detail, name="incident_detail"),
    path(
        "<slug:code>/risk/incidents/<int:incident_id>/report.docx",
        pages.incident_report,
        name="incident_report",
    ),
    path("<slug:code>/risk/risks/", pages.risk_list, name="risk_list"),
    path("<slug:code>/risk/plans/", pages.plan_list, name="plan_list"),
    path("<slug:code>/risk/vulns/", pages.vuln_list, name="vuln_list"),
    path("<slug:code>/risk/suppliers/", pages.supplier_list, name="supplier_list"),
    path("<slug:code>/risk/changes/", pages.change_list, name="change_list"),
    path("<slug:code>/risk/capacity/", pages.capacity_list, name="capacity_list"),
    path("<slug:code>/risk/privacy/", pages.privacy_list, name="privacy_list"),
    path("<slug:code>/risk/owed/", pages.owed_list, name="owed_list"),
    path("<slug:code>/risk/assessments/", pages.assessment_list, name="assessment_list"),
    path("<slug:code>/risk/assessments/<int:report_id>.docx", pages.assessment_file, name="assessment_file"),
    path("<slug:code>/risk/annual/<int:year>.docx", pages.annual_report, name="annual_report"),
    path("<slug:code>/risk/changes/<str:number>/", pages.change_detail, name="change_detail"),
    path("<slug:code>/risk/vulns/<str:number>/", pages.vuln_detail, name="vuln_detail"),
]

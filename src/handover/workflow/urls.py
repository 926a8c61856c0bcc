from django.urls import path

from handover.workflow import views

app_name = "workflow"

urlpatterns = [
    path("<slug:code>/", views.overview, name="overview"),
    path("<slug:code>/summary/", views.summary, name="summary"),
    path("<slug:code>/sites/<int:site_id>/", views.site, name="site"),
    path("<slug:code>/sites/<int:site_id>/exceptions/new/", views.case_open, name="case_open"),
    path("<slug:code>/steps/<int:instance_id>/", views.step, name="step"),
    path("<slug:code>/steps/<int:instance_id>/note/", views.step_note, name="step_note"),
    path("<slug:code>/steps/<int:instance_id>/evidence/", views.step_evidence, name="step_evidence"),
    path("<slug:code>/steps/<int:instance_id>/confirm/", views.step_confirm, name="step_confirm"),
    path("<slug:code>/steps/<int:instance_id>/feedback/", views.step_feedback, name="step_feedback"),
    path("<slug:code>/evidence/<int:evidence_id>/", views.evidence, name="evidence"),
    path("<slug:code>/exceptions/<int:case_id>/", views.case, name="case"),
    path("<slug:code>/exceptions/<int:case_id>/tick/", views.case_tick, name="case_tick"),
    path("<slug:code>/exceptions/<int:case_id>/link/", views.case_link, name="case_link"),
    path("<slug:code>/exceptions/<int:case_id>/close/", views.case_close, name="case_close"),
    path("<slug:code>/deadlines/", views.deadline, name="deadline"),
    path("<slug:code>/phase/", views.phase, name="phase"),
    path("<slug:code>/reports/", views.report, name="report"),
    path("<slug:code>/stabilisation/", views.stabilisation_page, name="stabilisation"),
    path("<slug:code>/duty/", views.duty, name="duty"),
    path("<slug:code>/sites/<int:site_id>/daily-report/", views.daily_report, name="daily_report"),
]

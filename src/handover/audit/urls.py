from django.urls import path

from handover.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="event_list"),
    path("export.csv", views.event_export, {"fmt": "csv"}, name="event_export_csv"),
    path("verify/", views.chain_verify, name="verify"),
    path("export.xlsx", views.event_export, {"fmt": "xlsx"}, name="event_export_xlsx"),
]

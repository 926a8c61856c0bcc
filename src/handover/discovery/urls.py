from django.urls import path

from handover.discovery import views

app_name = "discovery"

urlpatterns = [
    path("<slug:code>/discovery/", views.index, name="index"),
    path("<slug:code>/discovery/gather/", views.gather, name="gather"),
    path("<slug:code>/discovery/runs/<int:run_id>/", views.run_detail, name="run"),
    path("<slug:code>/discovery/targets/<int:target_id>/", views.target_detail, name="target"),
    path("<slug:code>/discovery/findings/", views.finding_list, name="findings"),
    path("<slug:code>/discovery/findings/<int:finding_id>/decide/", views.finding_decide, name="decide"),
]

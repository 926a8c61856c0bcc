from django.urls import path

from handover.registers.views import completeness as views_completeness

app_name = "registers_rules"

urlpatterns = [
    path("<slug:code>/registers/completeness/", views_completeness.completeness, name="completeness"),
]

from django.urls import path

from handover.backups import views

app_name = "backups"

urlpatterns = [
    path("<slug:code>/backups/", views.bundle_list, name="bundle_list"),
    path("<slug:code>/backups/keys/", views.key_list, name="key_list"),
]

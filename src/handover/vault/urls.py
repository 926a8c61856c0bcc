from django.urls import path

from handover.vault import views

app_name = "vault"

urlpatterns = [
    path("vault/", views.vault_home, name="home"),
    path("vault/seal/", views.vault_seal, name="seal"),
    path("vault/pending/verify/", views.vault_pending_verify, name="pending_verify"),
    path("vault/pending/cancel/", views.vault_pending_cancel, name="pending_cancel"),
    path("e/<slug:code>/vault/", views.entry_list, name="entry_list"),
    path("e/<slug:code>/vault/overdue/", views.overdue, name="overdue"),
    path("e/<slug:code>/vault/capture/", views.entry_capture, name="entry_capture"),
    path("e/<slug:code>/vault/requests/", views.request_list, name="request_list"),
    path(
        "e/<slug:code>/vault/requests/<int:request_id>/approve/",
        views.request_approve,
        name="request_approve",
    ),
    path(
        "e/<slug:code>/vault/requests/<int:request_id>/refuse/", views.request_refuse, name="request_refuse"
    ),
    path("e/<slug:code>/vault/requests/<int:request_id>/open/", views.reveal_open, name="reveal_open"),
    path("e/<slug:code>/vault/<uuid:entry_id>/", views.entry_detail, name="entry_detail"),
    path("e/<slug:code>/vault/<uuid:entry_id>/verify/", views.entry_verify, name="entry_verify"),
    path("e/<slug:code>/vault/<uuid:entry_id>/reveal/", views.reveal_request, name="reveal_request"),
]

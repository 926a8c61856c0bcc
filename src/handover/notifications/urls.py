from django.urls import path

from handover.notifications import views

app_name = "notifications"

urlpatterns = [
    path("<slug:code>/", views.inbox, name="inbox"),
    path("<slug:code>/subscriptions/", views.subscriptions, name="subscriptions"),
]

from django.urls import path

from handover.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_totp, name="login_totp"),
    path("second-factor/", views.totp_setup, name="totp_setup"),
    path("logout/", views.logout_view, name="logout"),
    path("manage/", views.account_list, name="account_list"),
    path("manage/new/", views.account_create, name="account_create"),
    path("manage/<int:user_id>/<str:action>/", views.account_action, name="account_action"),
    path("enrol/", views.enrol, name="enrol"),
    path("resets/", views.reset_list, name="reset_list"),
    path("resets/<int:enrolment_id>/<str:action>/", views.reset_decide, name="reset_decide"),
]

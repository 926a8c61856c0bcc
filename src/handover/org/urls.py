from django.urls import path

from handover.org import views

app_name = "org"

urlpatterns = [
    path("", views.engagement_list, name="engagement_list"),
    path("<slug:code>/", views.dashboard, name="dashboard"),
    path("<slug:code>/sites/new/", views.site_create, name="site_create"),
    path("<slug:code>/sites/<int:site_id>/", views.site_detail, name="site_detail"),
    path("<slug:code>/sites/<int:site_id>/edit/", views.site_edit, name="site_edit"),
    path("<slug:code>/sites/<int:site_id>/deactivate/", views.site_deactivate, name="site_deactivate"),
    path("<slug:code>/people/", views.person_list, name="person_list"),
    path("<slug:code>/people/new/", views.person_create, name="person_create"),
    path("<slug:code>/people/<int:person_id>/", views.person_detail, name="person_detail"),
    path("<slug:code>/people/<int:person_id>/edit/", views.person_edit, name="person_edit"),
    path("<slug:code>/people/<int:person_id>/deactivate/", views.person_deactivate, name="person_deactivate"),
    path("<slug:code>/people/<int:person_id>/roles/", views.role_grant, name="role_grant"),
    path("<slug:code>/people/<int:person_id>/login/", views.person_link_login, name="person_link_login"),
    path(
        "<slug:code>/people/<int:person_id>/login/unlink/",
        views.person_unlink_login,
        name="person_unlink_login",
    ),
    path("<slug:code>/roles/<int:role_id>/revoke/", views.role_revoke, name="role_revoke"),
    path("<slug:code>/organisations/", views.organisation_list, name="organisation_list"),
    path("<slug:code>/organisations/new/", views.organisation_create, name="organisation_create"),
    path(
        "<slug:code>/organisations/<int:organisation_id>/edit/",
        views.organisation_edit,
        name="organisation_edit",
    ),
    path(
        "<slug:code>/organisations/<int:organisation_id>/deactivate/",
        views.organisation_deactivate,
        name="organisation_deactivate",
    ),
]

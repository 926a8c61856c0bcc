from django.urls import path

from handover.reports import views

app_name = "reports"

urlpatterns = [
    path("<slug:code>/packages/", views.package_list, name="package_list"),
    path("<slug:code>/packages/<int:package_id>/", views.package_detail, name="package_detail"),
    path("<slug:code>/packages/approvals/", views.approval_list, name="approval_list"),
    path("<slug:code>/packages/cases/<int:case_id>/accept/", views.case_accept, name="case_accept"),
    path("<slug:code>/packages/<int:package_id>/approve/", views.package_approve, name="package_approve"),
    path(
        "<slug:code>/packages/<int:package_id>/approve/download/",
        views.approval_download,
        name="approval_download",
    ),
    path("<slug:code>/packages/<int:package_id>/download/", views.package_download, name="package_download"),
    path("<slug:code>/packages/<int:package_id>/addendum/", views.package_addendum, name="package_addendum"),
]

from django.urls import path

from handover.registers import views

app_name = "registers"

urlpatterns = [
    path("<slug:code>/registers/", views.register_index, name="index"),
    path("<slug:code>/registers/completeness/", views.completeness_page, name="completeness"),
    path("<slug:code>/registers/<int:register_no>/", views.row_list, name="row_list"),
    path("<slug:code>/registers/<int:register_no>/forms/", views.form_list, name="form_list"),
    path("<slug:code>/registers/<int:register_no>/forms/new/", views.form_create, name="form_create"),
    path("<slug:code>/registers/<int:register_no>/export/<slug:fmt>/", views.row_export, name="row_export"),
    path(
        "<slug:code>/registers/<int:register_no>/template/<slug:fmt>/",
        views.register_template,
        name="register_template",
    ),
    path(
        "<slug:code>/registers/<int:register_no>/import/<int:site_id>/", views.import_page, name="import_page"
    ),
    path("<slug:code>/register-imports/<int:job_id>/", views.import_job, name="import_job"),
    path(
        "<slug:code>/register-imports/<int:job_id>/failed-rows/",
        views.import_failed_rows,
        name="import_failed_rows",
    ),
    path(
        "<slug:code>/register-forms/<int:form_id>/export/<slug:fmt>/", views.form_export, name="form_export"
    ),
    path("<slug:code>/register-forms/<int:form_id>/", views.form_detail, name="form_detail"),
    path("<slug:code>/register-forms/<int:form_id>/rows/new/", views.row_create, name="row_create"),
    path("<slug:code>/register-forms/<int:form_id>/submit/", views.form_submit, name="form_submit"),
    path("<slug:code>/register-forms/<int:form_id>/sign/", views.form_sign, name="form_sign"),
    path("<slug:code>/register-forms/<int:form_id>/archive/", views.form_archive, name="form_archive"),
    path("<slug:code>/register-forms/<int:form_id>/correct/", views.form_correct, name="form_correct"),
    path("<slug:code>/register-forms/<int:form_id>/attach/", views.form_attach, name="form_attach"),
    path("<slug:code>/register-rows/<int:row_id>/", views.row_detail, name="row_detail"),
    path("<slug:code>/register-rows/<int:row_id>/edit/", views.row_edit, name="row_edit"),
    path("<slug:code>/register-rows/<int:row_id>/correct/", views.row_correct, name="row_correct"),
    path("<slug:code>/register-rows/<int:row_id>/sign/", views.row_sign, name="row_sign"),
    path("<slug:code>/register-rows/<int:row_id>/attach/", views.row_attach, name="row_attach"),
    path(
        "<slug:code>/register-files/<int:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
]

from django.urls import path

from handover.rotation import views

app_name = "rotation"

urlpatterns = [
    path("<slug:code>/rotation/", views.plan_list, name="plans"),
    path("<slug:code>/rotation/plans/<int:plan_id>/", views.plan_detail, name="plan"),
    path("<slug:code>/rotation/plans/<int:plan_id>/accounts/<int:item_id>/", views.item_detail, name="item"),
    path("<slug:code>/rotation/restores/", views.restore_list, name="restores"),
    path("<slug:code>/rotation/restores/<int:restore_id>/", views.restore_detail, name="restore"),
    path("<slug:code>/rotation/disables/", views.disable_list, name="disables"),
    path("<slug:code>/rotation/disables/<int:disable_id>/", views.disable_detail, name="disable"),
    path("<slug:code>/rotation/resets/", views.reset_list, name="resets"),
]

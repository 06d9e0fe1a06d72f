from django.urls import path

from careloop.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("<int:pk>/", views.patient_detail, name="detail"),
    path("<int:pk>/edit/", views.patient_edit, name="edit"),
    path("<int:pk>/reveal/<str:field>/", views.patient_reveal, name="reveal"),
    path("<int:pk>/consents/", views.consent_add, name="consent_add"),
    path("<int:pk>/shares/", views.share_add, name="share_add"),
    path("<int:pk>/shares/<int:share_id>/delete/", views.share_remove, name="share_remove"),
    path("<int:pk>/lifestyle/", views.lifestyle_edit, name="lifestyle"),
    path("<int:pk>/trends/<str:key>.json", views.trend_data, name="trend"),
    path("<int:pk>/reports/<int:report_id>/", views.report_detail, name="report"),
    path("<int:pk>/record/<slug:kind>/add/", views.record_item, name="record_add"),
    path("<int:pk>/record/<slug:kind>/<int:item_id>/", views.record_item, name="record_edit"),
    path(
        "<int:pk>/record/<slug:kind>/<int:item_id>/delete/",
        views.record_delete,
        name="record_delete",
    ),
]

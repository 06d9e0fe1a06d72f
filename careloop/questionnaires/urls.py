from django.urls import path

from careloop.questionnaires import views

app_name = "questionnaires"
urlpatterns = [
    path("", views.questionnaire_list, name="list"),
    path("new/", views.questionnaire_new, name="new"),
    path("answers/<int:pk>/", views.response_detail, name="response"),
    path("<slug:code>/", views.questionnaire_detail, name="detail"),
    path("<slug:code>/fhir/", views.questionnaire_fhir, name="fhir"),
    path("<slug:code>/patients/<int:patient_id>/", views.fill, name="fill"),
]

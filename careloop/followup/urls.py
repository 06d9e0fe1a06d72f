from django.urls import path

from careloop.followup import views

app_name = "followup"
urlpatterns = [
    path("", views.worklist_page, name="worklist"),
    path("assign/", views.assign, name="assign"),
    path("tasks/<int:pk>/", views.task_page, name="task"),
    path("records/<int:pk>/recording/", views.recording, name="recording"),
    path("patients/<int:pk>/enrol/", views.plan_enrol, name="enrol"),
    path("plans/<int:pk>/stop/", views.plan_stop, name="plan_stop"),
    path("pathways/", views.pathway_list, name="pathways"),
]

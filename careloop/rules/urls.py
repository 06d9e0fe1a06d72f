from django.urls import path

from careloop.rules import views

app_name = "rules"
urlpatterns = [
    path("", views.rule_list, name="list"),
    path("new/", views.rule_edit, name="create"),
    path("<slug:code>/", views.rule_edit, name="edit"),
    path("patients/<int:pk>/tags/", views.tag_add, name="tag_add"),
    path("patients/<int:pk>/tags/<int:tag_id>/delete/", views.tag_remove, name="tag_remove"),
]

from django.urls import path

from careloop.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("lists/<str:key>/", views.drill, name="drill"),
]

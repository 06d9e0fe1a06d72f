from django.urls import path

from careloop.followup import alert_views

app_name = "alerts"
urlpatterns = [
    path("", alert_views.alert_list, name="list"),
    path("<int:pk>/", alert_views.alert_page, name="detail"),
]

from django.urls import path

from careloop.interop import views

app_name = "interop"
urlpatterns = [
    path("messages/", views.message_list, name="messages"),
    path("messages/<int:pk>/", views.message_detail, name="message"),
    path("messages/<int:pk>/reprocess/", views.message_reprocess, name="reprocess"),
]

from django.urls import path

from careloop.interop import import_views, views

app_name = "interop"
urlpatterns = [
    path("messages/", views.message_list, name="messages"),
    path("messages/<int:pk>/", views.message_detail, name="message"),
    path("messages/<int:pk>/reprocess/", views.message_reprocess, name="reprocess"),
    path("imports/", import_views.import_list, name="imports"),
    path("imports/<int:pk>/", import_views.import_detail, name="import"),
    path("imports/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors/", import_views.import_errors, name="import_errors"),
]

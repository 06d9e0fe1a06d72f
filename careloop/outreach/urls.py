from django.urls import path

from careloop.outreach import callback_views, views

app_name = "outreach"
urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/answer/", views.answer_as_patient, name="answer"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/handled/", views.mark_handled, name="handled"),
    path(
        "callbacks/<int:config_id>/<str:token>/<str:kind>/",
        callback_views.callback,
        name="callback",
    ),
]

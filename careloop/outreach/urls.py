from django.urls import path

from careloop.outreach import callback_views, ivr_views, template_views, views

app_name = "outreach"
urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/answer/", views.answer_as_patient, name="answer"),
    path("inbox/", views.inbox, name="inbox"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/<int:pk>/", views.open_notification, name="notification"),
    path("templates/", template_views.template_list, name="templates"),
    path("templates/preview/", template_views.template_preview, name="template-try"),
    path("templates/<int:pk>/preview/", template_views.template_preview, name="template-preview"),
    path("inbox/<int:pk>/handled/", views.mark_handled, name="handled"),
    path("inbox/<int:pk>/answer/", views.answer_reply, name="answer-reply"),
    path("callbacks/<int:config_id>/<str:token>/ivr/", ivr_views.ivr_step, name="ivr"),
    path("callbacks/<int:config_id>/<str:token>/hangup/", ivr_views.hangup, name="hangup"),
    path(
        "callbacks/<int:config_id>/<str:token>/<str:kind>/",
        callback_views.callback,
        name="callback",
    ),
]

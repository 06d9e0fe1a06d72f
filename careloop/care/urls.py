from django.urls import path

from careloop.care import lecture_views, programme_views, summary_views, views

app_name = "care"
urlpatterns = [
    path("patients/<int:pk>/plan/", views.plan_page, name="plan"),
    path("patients/<int:pk>/programmes/", programme_views.programmes_page, name="programmes"),
    path("patients/<int:pk>/summaries/", summary_views.summaries_page, name="summaries"),
    path("summaries/<int:pk>/", summary_views.summary_page, name="summary"),
    path("programmes/<int:pk>/stop/", programme_views.programme_stop, name="programme_stop"),
    path(
        "programmes/<int:pk>/former-smoker/",
        programme_views.programme_former_smoker,
        name="programme_former_smoker",
    ),
    path("patients/<int:pk>/report.pdf", views.report_pdf, name="report"),
    path("lectures/", lecture_views.lecture_list, name="lectures"),
    path("lectures/new/", lecture_views.lecture_new, name="lecture_new"),
    path("lectures/<int:pk>/", lecture_views.lecture_page, name="lecture"),
    path("lectures/<int:pk>/edit/", lecture_views.lecture_edit, name="lecture_edit"),
    path("lectures/<int:pk>/sign-up/", lecture_views.lecture_sign_up, name="lecture_sign_up"),
    path("lectures/<int:pk>/give-up/", lecture_views.lecture_give_up, name="lecture_give_up"),
    path(
        "lectures/<int:pk>/attendance/", lecture_views.lecture_attendance, name="lecture_attendance"
    ),
    path("lectures/<int:pk>/cancel/", lecture_views.lecture_cancel, name="lecture_cancel"),
    path("lectures/<int:pk>/invite/", lecture_views.lecture_invite, name="lecture_invite"),
    path("reports/batch/", views.batch_start, name="batch_start"),
    path("reports/batch/<int:pk>/", views.batch_page, name="batch"),
    path("reports/batch/<int:pk>/progress/", views.batch_progress, name="batch_progress"),
    path("reports/batch/<int:pk>/download/", views.batch_download, name="batch_download"),
]

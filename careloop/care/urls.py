from django.urls import path

from careloop.care import programme_views, summary_views, views

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
    path("reports/batch/", views.batch_start, name="batch_start"),
    path("reports/batch/<int:pk>/", views.batch_page, name="batch"),
    path("reports/batch/<int:pk>/progress/", views.batch_progress, name="batch_progress"),
    path("reports/batch/<int:pk>/download/", views.batch_download, name="batch_download"),
]

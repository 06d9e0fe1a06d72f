from django.urls import path

from careloop.portal import exam_views, lecture_views, staff_views, views

app_name = "portal"
urlpatterns = [
    path("staff/patients/<int:pk>/link/", staff_views.make_link, name="make-link"),
    path("staff/redemptions/", staff_views.redemptions, name="redemptions"),
    path("<str:token>/", views.home, name="home"),
    path("<str:token>/check/", views.check, name="check"),
    path("<str:token>/q/<slug:code>/", views.questionnaire, name="questionnaire"),
    path("<str:token>/readings/", views.readings, name="readings"),
    path("<str:token>/smoke-free/", views.smoke_free, name="smoke-free"),
    path("<str:token>/report/", views.report, name="report"),
    path("<str:token>/revisit/", views.revisit, name="revisit"),
    path("<str:token>/points/", views.points_page, name="points"),
    path("<str:token>/lectures/", lecture_views.lectures_page, name="lectures"),
    path("<str:token>/exams/", exam_views.exams_page, name="exams"),
]

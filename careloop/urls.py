from django.contrib import admin
from django.urls import include, path

from careloop import views
from careloop.api import api
from careloop.followup import telephony
from careloop.interop.fhir import views as views_fhir

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("careloop.accounts.urls")),
    path("patients/", include("careloop.patients.urls")),
    path("audit/", include("careloop.audit.urls")),
    path("interop/", include("careloop.interop.urls")),
    path("rules/", include("careloop.rules.urls")),
    path("worklist/", include("careloop.followup.urls")),
    path("alerts/", include("careloop.followup.alert_urls")),
    path("outreach/", include("careloop.outreach.urls")),
    path("questionnaires/", include("careloop.questionnaires.urls")),
    path("p/", include("careloop.portal.urls")),
    path("dashboard/", include("careloop.analytics.urls")),
    path("care/", include("careloop.care.urls")),
    path("api/v1/", api.urls),
    path("hooks/telephony/recording", telephony.recording_hook, name="telephony-recording"),
    path("fhir/R4/", include("careloop.interop.fhir.urls")),
    path("fhir/R4", views_fhir.root),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "CareLoop"
admin.site.site_title = "CareLoop"

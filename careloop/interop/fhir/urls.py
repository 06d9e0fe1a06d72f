from django.urls import path

from careloop.interop.fhir import views

urlpatterns = [
    path("", views.root, name="fhir-root"),
    path("metadata", views.metadata, name="fhir-metadata"),
    path("<str:resource_type>", views.type_endpoint, name="fhir-type"),
    path("<str:resource_type>/<str:pk>", views.instance_endpoint, name="fhir-instance"),
    path(
        "<str:resource_type>/<str:pk>/_history/<str:version>",
        views.version_endpoint,
        name="fhir-version",
    ),
]

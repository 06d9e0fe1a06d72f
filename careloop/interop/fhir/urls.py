from django.urls import path, re_path

from careloop.interop.fhir import views

urlpatterns = [
    path("", views.root, name="fhir-root"),
    path("metadata", views.metadata, name="fhir-metadata"),
    path("<str:resource_type>", views.type_endpoint, name="fhir-type"),
    path("<str:resource_type>/_search", views.search_endpoint, name="fhir-search"),
    path("<str:resource_type>/<str:pk>", views.instance_endpoint, name="fhir-instance"),
    path(
        "<str:resource_type>/<str:pk>/_history/<str:version>",
        views.version_endpoint,
        name="fhir-version",
    ),
    # Anything else under /fhir/R4 (a resource's _history, an operation such as $everything):
    # an OperationOutcome, not the staff pages' HTML 404.
    re_path(r"^.*$", views.not_served, name="fhir-other"),
]

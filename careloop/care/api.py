"""/api/v1/patients/{id}/report.pdf: the patient's printed health report (archived and
audited like one printed from the patient page)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.errors import HttpError

from careloop.api import ERROR_RESPONSES
from careloop.care.report import PdfUnavailable, print_report
from careloop.patients.access import get_patient_for

router = Router()


@router.get(
    "/{patient_id}/report.pdf",
    response={200: None, 503: None, **ERROR_RESPONSES},
    summary="The patient's health report as PDF",
    openapi_extra={"responses": {200: {"content": {"application/pdf": {}}}}},
)
def report_pdf(request: HttpRequest, patient_id: int) -> HttpResponse:
    if not request.user.has_perm("care.add_printedreport"):
        raise PermissionDenied
    patient = get_patient_for(request.user, patient_id)
    try:
        copy = print_report(request.user, patient)
    except PdfUnavailable as exc:
        raise HttpError(503, "PDF printing needs the Pango libraries") from exc
    with copy.file.open("rb") as pdf:
        body = pdf.read()
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="report-{patient.card_number}.pdf"'
    return response

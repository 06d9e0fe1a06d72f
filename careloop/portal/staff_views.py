"""Staff make a patient's link (to send it themselves, or read it out): the patient page's
"Patient link" form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.patients.access import get_patient_for
from careloop.portal.links import link_path, make_token
from careloop.questionnaires.services import current
from careloop.typing import AuthedRequest


@login_required
@permission_required("questionnaires.add_questionnaireresponse", raise_exception=True)
@require_POST
def make_link(request: AuthedRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    what = request.POST.get("what", "home")
    code = what.removeprefix("q:") if what.startswith("q:") else ""
    if code and current(code) is None:
        messages.error(request, _("There is no such questionnaire in use."))
        return redirect("patients:detail", pk=patient.pk)
    purpose = "questionnaire" if code else (what if what in ("readings", "report") else "home")
    token = make_token(patient.pk, purpose, questionnaire=code)
    url = request.build_absolute_uri(link_path(token))
    record(
        request.user,
        "create",
        "portal_link",
        patient.pk,
        patient_id=patient.pk,
        summary=f"patient link made ({purpose}{':' + code if code else ''})",
    )
    messages.success(request, _("Patient link (valid 7 days): %(url)s") % {"url": url})
    return redirect("patients:detail", pk=patient.pk)

"""Staff make a patient's link (to send it themselves, or read it out): the patient page's
"Patient link" form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.patients.access import get_patient_for, patients_for
from careloop.portal import points
from careloop.portal.links import link_path, make_token
from careloop.portal.models import Redemption
from careloop.questionnaires.access import in_use_for
from careloop.typing import AuthedRequest


@login_required
@permission_required("questionnaires.add_questionnaireresponse", raise_exception=True)
@require_POST
def make_link(request: AuthedRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    what = request.POST.get("what", "home")
    code = what.removeprefix("q:") if what.startswith("q:") else ""
    if code and in_use_for(code, patient.organisation) is None:
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


@login_required
@permission_required("portal.change_redemption", raise_exception=True)
def redemptions(request: AuthedRequest) -> HttpResponse:
    """Patients' requests to exchange points, for the patients the user may change (a
    read-only share does not spend another organisation's patient's points)."""
    writable = patients_for(request.user, write=True).values("pk")
    visible = Redemption.objects.filter(patient__in=writable)
    if request.method == "POST":
        chosen = get_object_or_404(visible, pk=request.POST.get("redemption", "0"))
        try:
            points.decide(request.user, chosen, approve=request.POST.get("decision") == "approve")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Saved."))
        return redirect("portal:redemptions")
    waiting = visible.filter(status=Redemption.Status.REQUESTED).select_related("patient")
    page = Paginator(waiting, 50).get_page(request.GET.get("page"))
    return render(request, "portal/redemptions.html", {"page": page})

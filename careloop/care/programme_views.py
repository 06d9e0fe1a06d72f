"""Staff pages of intervention programmes: a patient's programmes with their progress
(goals, charts, check-ins), putting them on one with their own targets, stopping one, and
after a smoking-cessation programme met, recording the patient as a former smoker."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.care.access import refused
from careloop.care.models import Programme, ProgrammeEnrolment
from careloop.care.programmes import (
    ProgrammeError,
    do_enrol,
    do_stop,
    load_programmes,
    progress,
)
from careloop.care.quit_smoking import do_record_former_smoker, offers_former_smoker
from careloop.care.svg import Point, line_chart
from careloop.patients.access import get_patient_for
from careloop.typing import AuthedRequest


def _targets(request: AuthedRequest) -> dict[str, float]:
    out = {}
    for key in request.POST:
        value = request.POST.get(key, "")
        if key.startswith("target_") and value.strip():
            try:
                out[key.removeprefix("target_")] = float(value)
            except ValueError:
                raise ProgrammeError(_("Targets must be numbers.")) from None
    return out


@login_required
@permission_required("care.view_healthplan", raise_exception=True)
def programmes_page(request: AuthedRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    if not Programme.objects.exists():
        load_programmes()
    error = ""
    if request.method == "POST":
        if (no := refused(request, pk)) is not None:
            return no
        programme = get_object_or_404(Programme, pk=request.POST.get("programme"), is_active=True)
        try:
            starts = date.fromisoformat(
                request.POST.get("starts_on") or timezone.localdate().isoformat()
            )
            do_enrol(request.user, patient, programme, starts, _targets(request))
        except ValueError as exc:  # ProgrammeError or a bad date
            error = str(exc)
        else:
            messages.success(request, _("Enrolled in %(name)s.") % {"name": programme.name})
            return redirect("care:programmes", pk=patient.pk)
    rows = ProgrammeEnrolment.objects.filter(patient=patient).select_related("programme", "patient")
    shown = []
    for row in rows:
        done = progress(row)
        charts = [
            line_chart(g.goal_text, [Point(t, v) for t, v in g.points])
            for g in done.goals
            if len(g.points) >= 2
        ]
        shown.append((done, charts, offers_former_smoker(done)))
    return render(
        request,
        "care/programmes.html",
        {
            "patient": patient,
            "shown": shown,
            "programmes": Programme.objects.filter(is_active=True),
            "today": timezone.localdate(),
            "error": error,
            # What was typed, kept when the enrolment is refused.
            "posted": request.POST if error else {},
            "can_change": request.user.has_perm("care.change_healthplan"),
        },
    )


@login_required
@require_POST
@permission_required("care.change_healthplan", raise_exception=True)
def programme_stop(request: AuthedRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(ProgrammeEnrolment, pk=pk, status=ProgrammeEnrolment.Status.ACTIVE)
    get_patient_for(request.user, row.patient_id, write=True)
    do_stop(request.user, row)
    messages.success(request, _("The programme was stopped."))
    return redirect("care:programmes", pk=row.patient_id)


@login_required
@require_POST
@permission_required("care.change_healthplan", raise_exception=True)
def programme_former_smoker(request: AuthedRequest, pk: int) -> HttpResponse:
    """Staff confirm: the record says former smoker (offered after the goal was met)."""
    row = get_object_or_404(ProgrammeEnrolment.objects.select_related("programme"), pk=pk)
    row.patient = get_patient_for(request.user, row.patient_id, write=True)
    try:
        do_record_former_smoker(request.user, row)
    except ProgrammeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The health record now says former smoker."))
    return redirect("care:programmes", pk=row.patient_id)

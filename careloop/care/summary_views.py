"""Staff pages of stage summaries: a patient's summaries, generating one for a period, and
one summary with its charts, edited and finalised as versions."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.care.access import refused
from careloop.care.models import StageSummary
from careloop.care.summaries import PeriodError, do_save_summary, quarter_before
from careloop.care.svg import Point, line_chart
from careloop.patients.access import get_patient_for
from careloop.typing import AuthedRequest


@login_required
@permission_required("care.view_healthplan", raise_exception=True)
def summaries_page(request: AuthedRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    error = ""
    if request.method == "POST":
        if (no := refused(request, pk)) is not None:
            return no
        try:
            first = date.fromisoformat(request.POST.get("from", ""))
            last = date.fromisoformat(request.POST.get("to", ""))
            row = do_save_summary(request.user, patient, first, last, regenerate=True)
        except ValueError as exc:
            error = str(exc) if isinstance(exc, PeriodError) else _("Dates must be YYYY-MM-DD.")
        else:
            return redirect("care:summary", pk=row.pk)
    rows = StageSummary.objects.filter(patient=patient).select_related("saved_by")
    first, last = quarter_before(timezone.localdate())
    return render(
        request,
        "care/summaries.html",
        {
            "patient": patient,
            "rows": rows,
            "first": first,
            "last": last,
            "error": error,
            "can_change": request.user.has_perm("care.change_healthplan"),
        },
    )


@login_required
@permission_required("care.view_healthplan", raise_exception=True)
def summary_page(request: AuthedRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(StageSummary, pk=pk)
    patient = get_patient_for(request.user, row.patient_id)
    if request.method == "POST":
        if (no := refused(request, patient.pk)) is not None:
            return no
        status = request.POST.get("status", StageSummary.Status.DRAFT)
        saved = do_save_summary(
            request.user,
            patient,
            row.period_start,
            row.period_end,
            summary=request.POST.get("summary", "").strip()[:5000],
            next_steps=request.POST.get("next_steps", "").strip()[:5000],
            status=status if status in StageSummary.Status.values else StageSummary.Status.DRAFT,
            regenerate=request.POST.get("regenerate") == "1",
        )
        messages.success(request, _("Saved as version %(v)s.") % {"v": saved.version})
        return redirect("care:summary", pk=saved.pk)
    charts = [
        line_chart(
            f"{i['name']}（{i['unit']}）" if i["unit"] else i["name"],
            [Point(d[5:], v) for d, v in i["points"]],
        )
        for i in row.content.get("indicators", [])
        if len(i["points"]) >= 2
    ]
    versions = StageSummary.objects.filter(
        patient=patient, period_start=row.period_start, period_end=row.period_end
    ).select_related("saved_by")
    return render(
        request,
        "care/summary.html",
        {
            "row": row,
            "patient": patient,
            "content": row.content,
            "charts": charts,
            "versions": versions,
            "is_latest": versions.first() == row,
            "can_change": request.user.has_perm("care.change_healthplan"),
        },
    )

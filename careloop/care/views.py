"""Staff pages: a patient's health plan (draft from the advice library, edit, versions),
their printed report, and batch printing with progress."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.care.access import refused
from careloop.care.advice import CATEGORIES
from careloop.care.models import HealthPlan, ReportBatch
from careloop.care.plans import PlanError, current_plan, do_save_plan, draft_sections
from careloop.care.report import PdfUnavailable, print_report
from careloop.ids import row_id
from careloop.patients.access import get_patient_for, patients_for
from careloop.typing import AuthedRequest

MAX_BATCH = 5000


def _posted_sections(request: AuthedRequest) -> list[dict[str, Any]]:
    post = request.POST
    titles = post.getlist("title")
    why = post.getlist("why")
    if len(why) != len(titles):  # not posted by the page: no reasons rather than wrong ones
        why = [""] * len(titles)
    rows = zip(
        post.getlist("category"),
        titles,
        post.getlist("text"),
        post.getlist("source"),
        why,
        strict=False,
    )
    return [{"category": c, "title": t, "text": x, "source": s, "why": w} for c, t, x, s, w in rows]


@login_required
@permission_required("care.view_healthplan", raise_exception=True)
def plan_page(request: AuthedRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    plan = current_plan(patient)
    error = ""
    if request.method == "POST":
        if (no := refused(request, pk)) is not None:
            return no
        try:
            saved = do_save_plan(
                request.user,
                patient,
                _posted_sections(request),
                request.POST.get("goals", ""),
                request.POST.get("status", HealthPlan.Status.DRAFT),
            )
        except PlanError as exc:
            error = str(exc)
        else:
            messages.success(
                request, _("Health plan saved as version %(v)s.") % {"v": saved.version}
            )
            return redirect("care:plan", pk=patient.pk)
    fresh = plan is None or request.GET.get("draft") == "1"
    sections = draft_sections(patient) if fresh else plan.sections  # type: ignore[union-attr]
    goals = "" if fresh else plan.goals  # type: ignore[union-attr]
    if error:  # show what was posted, with the mistake named
        sections, goals, fresh = _posted_sections(request), request.POST.get("goals", ""), False
    return render(
        request,
        "care/plan.html",
        {
            "patient": patient,
            "plan": plan,
            "fresh": fresh,
            "sections": sections,
            "goals": goals,
            "categories": CATEGORIES,
            "versions": HealthPlan.objects.filter(patient=patient).select_related("saved_by")[:20],
            "error": error,
            "can_change": request.user.has_perm("care.change_healthplan"),
        },
    )


@login_required
@permission_required("care.add_printedreport", raise_exception=True)
def report_pdf(request: AuthedRequest, pk: int) -> HttpResponseBase:
    patient = get_patient_for(request.user, pk)
    try:
        copy = print_report(request.user, patient)
    except PdfUnavailable:
        return HttpResponse(
            _("PDF printing needs the Pango libraries: apt-get install %(packages)s")
            % {"packages": "libpango-1.0-0 libpangoft2-1.0-0"},
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = FileResponse(copy.file.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="report-{patient.card_number}.pdf"'
    return response


@login_required
@require_POST
@permission_required("care.add_reportbatch", raise_exception=True)
def batch_start(request: AuthedRequest) -> HttpResponse:
    from careloop.care.tasks import print_batch

    wanted = [pk for v in request.POST.getlist("patient") if (pk := row_id(v)) is not None]
    ids = list(patients_for(request.user).filter(pk__in=wanted).values_list("pk", flat=True))
    if not ids:
        messages.error(request, _("Choose at least one patient."))
        back = request.POST.get("next", "")
        safe = url_has_allowed_host_and_scheme(back, {request.get_host()})
        return redirect(back if back and safe else "patients:list")
    if len(ids) > MAX_BATCH:
        messages.error(request, _("At most %(n)s reports at a time.") % {"n": MAX_BATCH})
        return redirect("patients:list")
    ordered = [pk for pk in wanted if pk in set(ids)]
    with transaction.atomic():
        batch = ReportBatch.objects.create(
            patient_ids=ordered, total=len(ordered), requested_by=request.user
        )
        print_batch.enqueue(batch.pk)
    return redirect("care:batch", pk=batch.pk)


def _own_batch(request: AuthedRequest, pk: int) -> ReportBatch:
    batch = get_object_or_404(ReportBatch, pk=pk)
    if batch.requested_by_id != request.user.pk and not request.user.is_superuser:
        raise Http404("no such batch")
    return batch


@login_required
@permission_required("care.add_reportbatch", raise_exception=True)
def batch_page(request: AuthedRequest, pk: int) -> HttpResponse:
    return render(request, "care/batch.html", {"batch": _own_batch(request, pk)})


@login_required
@permission_required("care.add_reportbatch", raise_exception=True)
def batch_progress(request: AuthedRequest, pk: int) -> HttpResponse:
    return render(request, "care/_batch_progress.html", {"batch": _own_batch(request, pk)})


@login_required
@permission_required("care.add_reportbatch", raise_exception=True)
def batch_download(request: AuthedRequest, pk: int) -> HttpResponseBase:
    batch = _own_batch(request, pk)
    if batch.status != ReportBatch.Status.DONE or not batch.archive:
        raise Http404("not ready")
    response = FileResponse(batch.archive.open("rb"), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="reports-{batch.pk}.zip"'
    return response

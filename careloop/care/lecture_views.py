"""Staff pages of health lectures (健康讲座): the list, a new or changed lecture, and one
lecture's page — who signed up, signing a patient up, marking who came, cancelling it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.care import lecture_invites, lectures
from careloop.care.lecture_forms import LectureForm
from careloop.care.models import Lecture, LectureSeat
from careloop.ids import row_id
from careloop.patients.access import patients_for
from careloop.patients.models import Tag
from careloop.patients.services import search_patients
from careloop.typing import AuthedRequest

WHEN = ("upcoming", "past", "all")


@login_required
@permission_required("care.view_lecture", raise_exception=True)
def lecture_list(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    when = request.GET.get("when", "upcoming")
    when = when if when in WHEN else "upcoming"
    rows = lectures.with_counts(lectures.seen_by(request.user)).order_by("-starts_at", "-pk")
    now = timezone.now()
    if when == "upcoming":
        rows = rows.filter(starts_at__gte=now - lectures.MARK_UNTIL).order_by("starts_at", "pk")
    elif when == "past":
        rows = rows.filter(starts_at__lt=now)
    if query:
        rows = rows.filter(
            Q(title__icontains=query) | Q(topic__icontains=query) | Q(speaker__icontains=query)
        )
    page = Paginator(rows, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "care/lectures.html",
        {
            "page": page,
            "query": query,
            "when": when,
            "querystring": urlencode({"q": query, "when": when}),
            "can_add": request.user.has_perm("care.add_lecture"),
            "now": now,
        },
    )


def _form_page(request: AuthedRequest, lecture: Lecture | None) -> HttpResponse:
    form = LectureForm(request.POST or None, instance=lecture, user=request.user)
    if request.method == "POST" and form.is_valid():
        new = lecture is None
        if new:
            form.instance.created_by = request.user
        saved = form.save()
        record(
            request.user,
            "create" if new else "update",
            "lecture",
            saved.pk,
            summary="lecture created" if new else "lecture changed",
        )
        messages.success(request, _("Saved."))
        return redirect("care:lecture", pk=saved.pk)
    return render(request, "care/lecture_form.html", {"form": form, "lecture": lecture})


@login_required
@permission_required("care.add_lecture", raise_exception=True)
def lecture_new(request: AuthedRequest) -> HttpResponse:
    return _form_page(request, None)


def _lecture(request: AuthedRequest, pk: int) -> Lecture:
    return get_object_or_404(lectures.seen_by(request.user), pk=pk)


def _visible_seats(request: AuthedRequest, lecture: Lecture) -> QuerySet[LectureSeat]:
    """The seats of patients the user may see (a hospital's lecture has patients of its
    departments and centres: a department's nurse sees her own)."""
    return lecture.seats.filter(patient__in=patients_for(request.user).values("pk"))


@login_required
@permission_required("care.change_lecture", raise_exception=True)
def lecture_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    if not lectures.may_change(request.user, lecture):
        raise PermissionDenied("another organisation's lecture")
    if lecture.status == Lecture.Status.CANCELLED:
        messages.error(request, _("This lecture has been cancelled."))
        return redirect("care:lecture", pk=lecture.pk)
    return _form_page(request, lecture)


@login_required
@permission_required("care.view_lecture", raise_exception=True)
def lecture_page(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    query = request.GET.get("q", "").strip()
    found: Any = []
    if query and request.user.has_perm("care.add_lectureseat"):
        found = search_patients(patients_for(request.user, write=True), query)[:10]
        record(request.user, "search", "patient", summary="lecture sign-up search")
    seats = (
        _visible_seats(request, lecture)
        .select_related("patient", "registered_by", "marked_by")
        .order_by("cancelled_at", "registered_at", "pk")
    )
    return render(
        request,
        "care/lecture.html",
        {
            "lecture": lecture,
            "seats": seats,
            "taken": lectures.taken(lecture),
            # Signed up from organisations the user does not see: counted, not named.
            "others": lectures.taken(lecture) - seats.filter(cancelled_at__isnull=True).count(),
            "ends_at": lectures.ends_at(lecture),
            "query": query,
            "found": found,
            "can_change": lectures.may_change(request.user, lecture),
            "can_seat": request.user.has_perm("care.add_lectureseat"),
            "can_mark": request.user.has_perm("care.change_lectureseat"),
            "cancelled": lecture.status == Lecture.Status.CANCELLED,
            "now": timezone.now(),
            "tags": Tag.objects.order_by("name").values_list("name", flat=True),
            "invite_tag": request.GET.get("invite_tag", ""),
            "to_invite": _to_invite(request, lecture) if "invite_tag" in request.GET else None,
        },
    )


def _to_invite(request: AuthedRequest, lecture: Lecture) -> int | None:
    if not lectures.may_change(request.user, lecture):
        return None
    return lecture_invites.candidates(
        lecture, request.user, request.GET.get("invite_tag", "")
    ).count()


INVITE_REASONS = {
    "no_address": _lazy("no address on a channel for messages"),
    "no_consent": _lazy("no consent to health education on their channels"),
    "cap": _lazy("the week's message limit reached"),
    "template": _lazy("no usable message template"),
    "invited": _lazy("invited already"),
}


@login_required
@permission_required("care.change_lecture", raise_exception=True)
@require_POST
def lecture_invite(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    if not lectures.may_change(request.user, lecture):
        raise PermissionDenied("another organisation's lecture")
    if lecture.status == Lecture.Status.CANCELLED or lecture.starts_at <= timezone.now():
        messages.error(request, _("Only a lecture still to come can be announced."))
        return redirect("care:lecture", pk=lecture.pk)
    tag = request.POST.get("tag", "")
    chosen = list(lecture_invites.candidates(lecture, request.user, tag)[: lecture_invites.MOST])
    done = lecture_invites.invite(lecture, chosen, request.user)
    why = "；".join(
        f"{INVITE_REASONS[k]} {n}" for k, n in sorted(done.skipped.items()) if k in INVITE_REASONS
    )
    messages.success(
        request,
        _("%(n)s invitations queued.") % {"n": done.queued}
        + (" " + _("Not invited: %(why)s.") % {"why": why} if why else ""),
    )
    return redirect("care:lecture", pk=lecture.pk)


@login_required
@permission_required("care.add_lectureseat", raise_exception=True)
@require_POST
def lecture_sign_up(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    patient = get_object_or_404(
        patients_for(request.user, write=True), pk=row_id(request.POST.get("patient")) or 0
    )
    try:
        lectures.sign_up(lecture, patient, by=request.user)
    except lectures.LectureError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(name)s is signed up.") % {"name": patient.name})
    return redirect("care:lecture", pk=lecture.pk)


@login_required
@permission_required("care.add_lectureseat", raise_exception=True)
@require_POST
def lecture_give_up(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    writable = patients_for(request.user, write=True).values("pk")
    seat = get_object_or_404(
        LectureSeat.objects.filter(lecture=lecture, patient__in=writable),
        pk=row_id(request.POST.get("seat")) or 0,
    )
    try:
        lectures.give_up(seat, by=request.user)
    except lectures.LectureError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The seat is given up."))
    return redirect("care:lecture", pk=lecture.pk)


@login_required
@permission_required("care.change_lectureseat", raise_exception=True)
@require_POST
def lecture_attendance(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    came = {n for v in request.POST.getlist("came") if (n := row_id(v)) is not None}
    shown = set(_visible_seats(request, lecture).values_list("pk", flat=True))
    try:
        marked, undone = lectures.mark_attendance(
            lecture, came & shown, by=request.user, among=shown
        )
    except lectures.LectureError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Attendance saved: %(marked)s marked as attended, %(undone)s marks taken back.")
            % {"marked": marked, "undone": undone},
        )
    return redirect("care:lecture", pk=lecture.pk)


@login_required
@permission_required("care.change_lecture", raise_exception=True)
@require_POST
def lecture_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    lecture = _lecture(request, pk)
    if not lectures.may_change(request.user, lecture):
        raise PermissionDenied("another organisation's lecture")
    try:
        held = lectures.cancel(lecture, request.user, request.POST.get("reason", ""))
    except lectures.LectureError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("The lecture is cancelled. %(n)s patients had signed up: please tell them.")
            % {"n": held},
        )
    return redirect("care:lecture", pk=lecture.pk)

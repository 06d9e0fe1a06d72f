"""The patient's health lectures page (``/p/<token>/lectures/``): the lectures open to them
with the seats left, signing up and giving a seat up, and their own lectures — attending
one earns points (F11)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from careloop.care import lectures
from careloop.care.models import LectureSeat
from careloop.ids import row_id
from careloop.portal.models import PortalEvent
from careloop.portal.views import _event, _guarded


def lectures_page(request: HttpRequest, token: str) -> HttpResponse:
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    error, done = "", ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "sign_up":
                lecture = lectures.open_to(patient).filter(
                    pk=row_id(request.POST.get("lecture")) or 0
                )
                chosen = lecture.first()
                if chosen is None:
                    raise lectures.LectureError(str(lectures.not_open_text()))
                lectures.sign_up(chosen, patient)
                done = "signed_up"
            elif action == "give_up":
                seat = LectureSeat.objects.filter(
                    patient=patient, pk=row_id(request.POST.get("seat")) or 0
                ).first()
                if seat is None:
                    raise lectures.LectureError(str(lectures.not_open_text()))
                lectures.give_up(seat)
                done = "given_up"
        except lectures.LectureError as exc:
            error = str(exc)
        else:  # a reload of the page after it does not send the form again
            return redirect(f"{request.path}?done={done}")
    else:
        done = request.GET.get("done", "")
        _event(link, patient, PortalEvent.Kind.VIEW, "lectures")
    mine = list(lectures.for_patient(patient)[:20])
    held = {s.lecture_id for s in mine if s.cancelled_at is None}
    shown = [
        (lecture, lectures.seats_left(lecture))
        for lecture in lectures.with_counts(lectures.open_to(patient))[:20]
        if lecture.pk not in held
    ]
    return render(
        request,
        "portal/lectures.html",
        {
            "token": token,
            "open": shown,
            "mine": mine,
            "error": error,
            "done": done,
            "now": timezone.now(),
        },
    )

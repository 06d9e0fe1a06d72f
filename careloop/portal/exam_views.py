"""The patient's exam-package page (``/p/<token>/exams/``, F20): the packages offered to
them (those their latest results make worth it first, saying why), booking one for a day,
and their bookings — a coordinator gives each a time, which shows here."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from careloop.followup import exam_packages
from careloop.followup.exam_packages import BookingError
from careloop.followup.models import RevisitRequest
from careloop.ids import row_id
from careloop.portal.models import PortalEvent
from careloop.portal.views import _event, _guarded


def _wanted(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BookingError(exam_packages.day_text()) from None


def exams_page(request: HttpRequest, token: str) -> HttpResponse:
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    error, done = "", ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "cancel":
                booking = exam_packages.bookings_of(patient).filter(
                    pk=row_id(request.POST.get("booking")) or 0
                )
                found = booking.first()
                if found is None:
                    raise BookingError(exam_packages.cancel_text())
                exam_packages.cancel(found)
                done = "cancelled"
            else:
                package = exam_packages.offered_to(patient).filter(
                    pk=row_id(request.POST.get("package")) or 0
                )
                chosen = package.first()
                if chosen is None:
                    raise BookingError(exam_packages.not_offered_text())
                wanted = _wanted(request.POST.get("wanted_on", ""))
                exam_packages.book(patient, chosen, wanted, note=request.POST.get("note", "")[:100])
                _event(link, patient, PortalEvent.Kind.REVISIT, "exams")
                done = "booked"
        except BookingError as exc:
            error = str(exc)
        else:  # a reload of the page after it does not send the form again
            return redirect(f"{request.path}?done={done}")
    else:
        done = request.GET.get("done", "")
        _event(link, patient, PortalEvent.Kind.VIEW, "exams")
    today = timezone.localdate()
    return render(
        request,
        "portal/exams.html",
        {
            "token": token,
            "offers": exam_packages.offers(patient),
            "bookings": exam_packages.bookings_of(patient)[:10],
            "open_statuses": [s.value for s in exam_packages.OPEN],
            "booked": RevisitRequest.Status.BOOKED,
            "error": error,
            "done": done,
            "today": today,
            "last_day": today + exam_packages.BOOK_WITHIN,
        },
    )

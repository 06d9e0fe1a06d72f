"""Health lectures on the patient timeline: signed up, and attended."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from careloop.care.models import Lecture, LectureSeat
from careloop.patients.models import Patient
from careloop.patients.timeline import TimelineEntry, timeline_source


@timeline_source
def lecture_entries(patient: Patient) -> Iterable[TimelineEntry]:
    for seat in LectureSeat.objects.filter(patient=patient).select_related("lecture"):
        lecture = seat.lecture
        if seat.attended_at is not None:
            title, when = _("Attended a health lecture"), lecture.starts_at
        elif seat.cancelled_at is not None or lecture.status == Lecture.Status.CANCELLED:
            continue
        else:
            title, when = _("Signed up for a health lecture"), seat.registered_at
        yield TimelineEntry(when, "lecture", "easel", title, lecture.title)

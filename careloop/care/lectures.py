"""Health lectures (健康讲座, F13) and the points attending them earns (F11).

An organisation holds a lecture; it is open to the patients of that organisation and of
those below it (a hospital's lecture to the community centres' patients too). Patients sign
up on their pages until it starts, staff sign them up until it ends (someone who walks in),
and staff mark who came: each attendance earns the lecture's points once, taken back if the
mark is undone. A cancelled lecture keeps its seats, shown to the patients as cancelled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import Organisation
from careloop.audit.services import record
from careloop.care.models import Lecture, LectureSeat
from careloop.patients.access import scope_organisation_ids
from careloop.patients.models import Patient
from careloop.portal.models import PointsEntry

# Staff may mark attendance from a little before the start (people sign in at the door).
MARK_FROM = timedelta(minutes=30)
# Staff may still sign someone up (a walk-in) and mark attendance this long after the end.
MARK_UNTIL = timedelta(days=7)


class LectureError(ValueError):
    pass


def ends_at(lecture: Lecture) -> Any:
    return lecture.starts_at + timedelta(minutes=lecture.minutes)


def seen_by(user: Any) -> QuerySet[Lecture]:
    """The lectures ``user`` sees: their organisations' and those of the organisations above
    theirs (open to their patients)."""
    rows = Lecture.objects.select_related("organisation")
    scope = scope_organisation_ids(user)
    if scope is None:
        return rows
    organisation = getattr(user, "organisation", None)
    lineage = list(organisation.lineage) if organisation is not None else []
    return rows.filter(organisation_id__in=[*scope, *lineage])


def may_change(user: Any, lecture: Lecture) -> bool:
    """Only staff of the organisation holding it (or above it) change a lecture."""
    if not user.has_perm("care.change_lecture"):
        return False
    scope = scope_organisation_ids(user)
    return scope is None or lecture.organisation_id in scope


def with_counts(rows: QuerySet[Lecture]) -> QuerySet[Lecture]:
    active = Q(seats__cancelled_at__isnull=True)
    return rows.annotate(
        signed_up=Count("seats", filter=active),
        came=Count("seats", filter=active & Q(seats__attended_at__isnull=False)),
    )


def taken(lecture: Lecture) -> int:
    return lecture.seats.filter(cancelled_at__isnull=True).count()


def seats_left(lecture: Lecture) -> int | None:
    """None: no limit. A lecture read ``with_counts`` is not counted again (a list page)."""
    if lecture.capacity is None:
        return None
    held = getattr(lecture, "signed_up", None)
    return max(lecture.capacity - (taken(lecture) if held is None else held), 0)


def not_open_text() -> str:
    return _("This lecture is not open for signing up.")


def _lineage(patient: Patient) -> list[int]:
    return Organisation.objects.get(pk=patient.organisation_id).lineage


def open_to(patient: Patient) -> QuerySet[Lecture]:
    """Lectures the patient may sign up for: not started, not cancelled, held by their
    organisation or one above it."""
    return Lecture.objects.filter(
        organisation_id__in=_lineage(patient),
        status=Lecture.Status.SCHEDULED,
        starts_at__gt=timezone.now(),
    ).order_by("starts_at", "pk")


def for_patient(patient: Patient) -> QuerySet[LectureSeat]:
    """The patient's seats, newest lecture first."""
    return (
        LectureSeat.objects.filter(patient=patient)
        .select_related("lecture")
        .order_by("-lecture__starts_at", "-pk")
    )


def _locked(lecture: Lecture) -> Lecture:
    return Lecture.objects.select_for_update().get(pk=lecture.pk)


def sign_up(lecture: Lecture, patient: Patient, by: Any = None) -> LectureSeat:
    """A seat for ``patient`` (``by`` None: the patient on their page). Signing up again
    returns the seat already held; a seat given up is taken again."""
    now = timezone.now()
    with transaction.atomic():
        lecture = _locked(lecture)
        if lecture.status == Lecture.Status.CANCELLED:
            raise LectureError(_("This lecture has been cancelled."))
        if lecture.organisation_id not in _lineage(patient):
            raise LectureError(_("This lecture is not open to this patient's organisation."))
        if by is None and lecture.starts_at <= now:
            raise LectureError(_("This lecture has already started."))
        if by is not None and ends_at(lecture) + MARK_UNTIL < now:
            raise LectureError(_("This lecture is over."))
        seat = LectureSeat.objects.filter(lecture=lecture, patient=patient).first()
        if seat is not None and seat.cancelled_at is None:
            return seat
        if lecture.capacity is not None and taken(lecture) >= lecture.capacity:
            raise LectureError(_("There are no seats left."))
        if seat is None:
            seat = LectureSeat.objects.create(lecture=lecture, patient=patient, registered_by=by)
        else:
            seat.cancelled_at, seat.registered_at, seat.registered_by = None, now, by
            seat.save(update_fields=["cancelled_at", "registered_at", "registered_by"])
        record(
            by,
            "create",
            "lecture_seat",
            seat.pk,
            patient_id=patient.pk,
            actor_label="" if by is not None else "patient page",
            summary=f"signed up for lecture {lecture.pk}",
        )
    return seat


def give_up(seat: LectureSeat, by: Any = None) -> LectureSeat:
    with transaction.atomic():
        _locked(seat.lecture)
        seat = LectureSeat.objects.select_related("lecture").get(pk=seat.pk)
        if seat.attended_at is not None:
            raise LectureError(_("The patient attended this lecture: the seat stays."))
        if by is None and seat.lecture.starts_at <= timezone.now():
            raise LectureError(_("This lecture has already started."))
        if seat.cancelled_at is None:
            seat.cancelled_at = timezone.now()
            seat.save(update_fields=["cancelled_at"])
            record(
                by,
                "update",
                "lecture_seat",
                seat.pk,
                patient_id=seat.patient_id,
                actor_label="" if by is not None else "patient page",
                summary=f"gave up the seat at lecture {seat.lecture_id}",
            )
    return seat


def _reason(lecture: Lecture, undone: bool = False) -> str:
    said = "撤销讲座签到" if undone else "参加健康讲座"
    return f"{said}：{lecture.title}"[:100]


def mark_attendance(
    lecture: Lecture, came: set[int], by: Any, among: set[int] | None = None
) -> tuple[int, int]:
    """Mark the seats ``came`` (seat ids) attended and the lecture's other seats — of those
    ``among`` (the seats the page showed; None: all) — not; returns (newly marked, marks
    undone). Each mark earns the lecture's points once."""
    now = timezone.now()
    marked = undone = 0
    with transaction.atomic():
        lecture = _locked(lecture)
        if lecture.status == Lecture.Status.CANCELLED:
            raise LectureError(_("This lecture has been cancelled."))
        if now < lecture.starts_at - MARK_FROM:
            raise LectureError(_("Attendance can be marked from 30 minutes before the start."))
        if ends_at(lecture) + MARK_UNTIL < now:
            raise LectureError(_("Attendance can be marked until 7 days after the lecture."))
        seats = LectureSeat.objects.filter(lecture=lecture, cancelled_at__isnull=True)
        if among is not None:
            seats = seats.filter(pk__in=among)
        for seat in seats:
            if seat.pk in came and seat.attended_at is None:
                seat.attended_at, seat.marked_by = now, by
                marked += 1
                points = lecture.points
            elif seat.pk not in came and seat.attended_at is not None:
                seat.attended_at, seat.marked_by = None, by
                undone += 1
                points = -lecture.points
            else:
                continue
            seat.save(update_fields=["attended_at", "marked_by"])
            if points:
                PointsEntry.objects.create(
                    patient_id=seat.patient_id,
                    points=points,
                    reason=_reason(lecture, undone=points < 0),
                )
        if marked or undone:
            record(
                by,
                "update",
                "lecture",
                lecture.pk,
                summary=f"attendance marked: {marked} came, {undone} marks undone",
            )
    return marked, undone


def cancel(lecture: Lecture, by: Any, reason: str) -> int:
    """Cancel the lecture; returns how many patients held a seat (to be told)."""
    reason = reason.strip()
    if not reason:
        raise LectureError(_("Please say why the lecture is cancelled."))
    with transaction.atomic():
        lecture = _locked(lecture)
        if lecture.status == Lecture.Status.CANCELLED:
            raise LectureError(_("This lecture has been cancelled."))
        if lecture.seats.filter(attended_at__isnull=False).exists():
            raise LectureError(_("Attendance has been marked: the lecture took place."))
        lecture.status, lecture.cancel_reason = Lecture.Status.CANCELLED, reason[:200]
        lecture.save(update_fields=["status", "cancel_reason"])
        record(by, "update", "lecture", lecture.pk, summary="lecture cancelled")
        return taken(lecture)

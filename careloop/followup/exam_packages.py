"""The exam-package catalogue (体检商城, F20): the packages offered to a patient (their
organisation's and those above it, for their sex and age), the ones recommended by their
latest results, booking one for a day (a coordinator then gives it a time on the Revisits
page), and closing a booking as attended once an exam visit or report follows it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import Organisation
from careloop.audit.services import record
from careloop.clinical.models import DiagnosticReport, Encounter, Observation
from careloop.followup.models import ExamPackage, RevisitRequest
from careloop.patients.models import Patient

PACK = Path(__file__).with_name("data") / "exam_packages.json"
ABNORMAL = ("H", "HH", "L", "LL", "A", "AA")
BOOK_WITHIN = timedelta(days=90)
OPEN = (RevisitRequest.Status.REQUESTED, RevisitRequest.Status.BOOKED)


class BookingError(ValueError):
    pass


def day_text() -> str:
    return _("Please choose a day within the next 90 days.")


def not_offered_text() -> str:
    return _("This package is not offered to this patient.")


def cancel_text() -> str:
    return _("Only a booking not yet attended can be cancelled.")


@dataclass(frozen=True)
class Offer:
    package: ExamPackage
    why: list[str]  # the abnormal results that make it recommended (names)


def load_packages() -> int:
    """Save the shipped packages (offered by every organisation) not there yet."""
    made = 0
    for data in json.loads(PACK.read_text(encoding="utf-8"))["packages"]:
        _row, created = ExamPackage.objects.get_or_create(
            organisation=None,
            code=data["code"],
            defaults={**data, "price": Decimal(str(data["price"]))},
        )
        made += created
    return made


def offered_to(patient: Patient) -> QuerySet[ExamPackage]:
    lineage = Organisation.objects.get(pk=patient.organisation_id).lineage
    age = patient.age
    return ExamPackage.objects.filter(
        Q(organisation__isnull=True) | Q(organisation_id__in=lineage),
        Q(sex="") | Q(sex=patient.sex),
        Q(min_age__isnull=True) | Q(min_age__lte=age),
        Q(max_age__isnull=True) | Q(max_age__gte=age),
        is_active=True,
    )


def _abnormal_latest(patient: Patient, codes: set[str]) -> dict[str, str]:
    """code → name of the patient's latest result of each of ``codes`` when it is out of
    range."""
    latest: dict[str, tuple[Any, str, str]] = {}
    rows = Observation.objects.filter(patient=patient, code__in=codes).values_list(
        "code", "effective_at", "interpretation", "name"
    )
    for code, at, flag, name in rows:
        if code not in latest or at > latest[code][0]:
            latest[code] = (at, flag, name)
    return {code: name for code, (_at, flag, name) in latest.items() if flag in ABNORMAL}


def offers(patient: Patient) -> list[Offer]:
    """The packages for the patient, the recommended ones first."""
    packages = list(offered_to(patient))
    codes = {code for p in packages for code in p.recommend_for}
    abnormal = _abnormal_latest(patient, codes) if codes else {}
    shown = [Offer(p, [abnormal[c] for c in p.recommend_for if c in abnormal]) for p in packages]
    return sorted(shown, key=lambda offer: not offer.why)


def bookings_of(patient: Patient) -> QuerySet[RevisitRequest]:
    return (
        RevisitRequest.objects.filter(patient=patient, kind=RevisitRequest.Kind.EXAM)
        .select_related("package")
        .order_by("-requested_at", "-pk")
    )


def book(
    patient: Patient, package: ExamPackage, wanted_on: date, by: Any = None, note: str = ""
) -> RevisitRequest:
    """Ask for ``package`` on ``wanted_on``; the same package asked for again while the
    first request waits is that request."""
    today = timezone.localdate()
    if not today <= wanted_on <= today + BOOK_WITHIN:
        raise BookingError(day_text())
    if not offered_to(patient).filter(pk=package.pk).exists():
        raise BookingError(not_offered_text())
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        waiting = bookings_of(patient).filter(package=package, status__in=OPEN).first()
        if waiting is not None:
            return waiting
        via = "患者页面预约体检" if by is None else "工作人员预约体检"
        booking = RevisitRequest.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            kind=RevisitRequest.Kind.EXAM,
            package=package,
            department=package.name[:100],
            wanted_on=wanted_on,
            reason=(f"{via}：{package.name}" + (f"；{note}" if note else ""))[:300],
            requested_by=by,
        )
        record(
            by,
            "create",
            "revisit",
            booking.pk,
            patient_id=patient.pk,
            actor_label="" if by is not None else "patient page",
            summary=f"exam package {package.code} requested for {wanted_on}",
        )
    return booking


def cancel(booking: RevisitRequest, by: Any = None) -> RevisitRequest:
    """The patient (or staff) calls the booking off before the exam."""
    with transaction.atomic():
        booking = RevisitRequest.objects.select_for_update().get(pk=booking.pk)
        if booking.kind != RevisitRequest.Kind.EXAM or booking.status not in OPEN:
            raise BookingError(cancel_text())
        booking.status, booking.closed_at = RevisitRequest.Status.CANCELLED, timezone.now()
        booking.save(update_fields=["status", "closed_at"])
        record(
            by,
            "update",
            "revisit",
            booking.pk,
            patient_id=booking.patient_id,
            actor_label="" if by is not None else "patient page",
            summary="exam booking cancelled",
        )
    return booking


def close_attended(*, now: datetime | None = None) -> int:
    """Exam bookings followed by an exam visit or an exam report of the patient's on or
    after the booked day (the appointment's, else the day wished for) are attended (run by
    the per-minute sweep: results arrive by every way in). A report before it — a routine
    test at a clinic visit — does not close the booking."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    closed = 0
    rows = RevisitRequest.objects.filter(kind=RevisitRequest.Kind.EXAM, status__in=OPEN)
    for booking in rows.only("pk", "patient_id", "appointment_at", "wanted_on", "requested_at"):
        day = (
            timezone.localtime(booking.appointment_at).date()
            if booking.appointment_at
            else booking.wanted_on
        )
        since = max(booking.requested_at, datetime.combine(day, time.min, tz))
        came = (
            Encounter.objects.filter(
                patient_id=booking.patient_id, kind=Encounter.Kind.EXAM, started_at__gte=since
            )
            .exclude(status=Encounter.Status.CANCELLED)
            .exists()
            or DiagnosticReport.objects.filter(
                patient_id=booking.patient_id, effective_at__gte=since
            ).exists()
        )
        if came:
            closed += RevisitRequest.objects.filter(pk=booking.pk, status__in=OPEN).update(
                status=RevisitRequest.Status.ATTENDED, closed_at=now
            )
    return closed

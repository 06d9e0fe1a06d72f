"""One timeline per patient (F2): every app contributes entries through ``timeline_source``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.patients.models import ConsentRecord, Medication, PastHistory, Patient


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # css/icon key
    icon: str
    title: Any
    detail: str = ""


Source = Callable[[Patient], Iterable[TimelineEntry]]
_SOURCES: list[Source] = []


def timeline_source(func: Source) -> Source:
    _SOURCES.append(func)
    return func


def at_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12, 0)))


def build_timeline(patient: Patient, limit: int = 200) -> list[TimelineEntry]:
    entries = [entry for source in _SOURCES for entry in source(patient)]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


@timeline_source
def _patient_entries(patient: Patient) -> Iterable[TimelineEntry]:
    yield TimelineEntry(
        patient.created_at,
        "enrol",
        "person-vcard",
        _("Enrolled, member card issued"),
        patient.formatted_card_number,
    )
    if patient.deceased_on:
        yield TimelineEntry(at_day(patient.deceased_on), "death", "heartbreak", _("Died"))
    for item in PastHistory.objects.filter(patient=patient, occurred_on__isnull=False):
        if item.occurred_on:
            yield TimelineEntry(
                at_day(item.occurred_on),
                "history",
                "clock-history",
                item.get_kind_display(),
                item.name,
            )
    for med in Medication.objects.filter(patient=patient, started_on__isnull=False):
        detail = " ".join(part for part in (med.name, med.dose, med.frequency) if part)
        if med.started_on:
            yield TimelineEntry(
                at_day(med.started_on), "medication", "capsule", _("Medication started"), detail
            )
    for consent in ConsentRecord.objects.filter(patient=patient):
        title = _("Consent given") if consent.granted else _("Consent withdrawn")
        yield TimelineEntry(
            consent.recorded_at,
            "consent",
            "shield-check",
            title,
            f"{consent.get_purpose_display()} · {consent.get_channel_display()}",
        )

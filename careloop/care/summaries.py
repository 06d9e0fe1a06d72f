"""Stage summaries (健康阶段总结, F14): for a period, each indicator's change, adherence
(check-ins on the patient page, medication compliance from follow-up forms), follow-ups done
against planned, programme goals met, alerts and how they ended, and next steps. Generated on
demand or each quarter; staff add their words and finalise; every save is a version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from careloop.audit.services import record
from careloop.care.models import ProgrammeEnrolment, StageSummary
from careloop.care.programmes import checkin_days, progress
from careloop.clinical.models import Observation
from careloop.followup.models import Alert, FollowUpRecord, Plan, Task
from careloop.patients.models import Patient

INDICATORS = 6


class PeriodError(ValueError):
    """The period asked for is not one (its start after its end)."""


def quarter_before(day: date) -> tuple[date, date]:
    """The calendar quarter before the one ``day`` is in."""
    first_this = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    last = first_this - timedelta(days=1)
    return date(last.year, 3 * ((last.month - 1) // 3) + 1, 1), last


def _shown(value: float) -> float | int:
    """Rounded to 2 places, a whole number as one (127, not 127.0, on the page)."""
    value = round(float(value), 2)
    return int(value) if value.is_integer() else value


def _in_unit(result: Observation) -> float | int | None:
    """The value in the item's normalised unit (the row's), as sent when it has none."""
    value = result.value_normalised if result.value_normalised is not None else result.value
    return None if value is None else _shown(value)


def _indicators(patient: Patient, first: date, last: date) -> list[dict[str, Any]]:
    rows = (
        Observation.objects.filter(
            patient=patient,
            value__isnull=False,
            effective_at__date__gte=first,
            effective_at__date__lte=last,
        )
        .exclude(code="")
        .order_by("effective_at", "id")
    )
    by_code: dict[str, list[Observation]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(row)
    ranked = sorted(by_code.items(), key=lambda kv: -len(kv[1]))[:INDICATORS]
    out = []
    for code, values in ranked:
        start, end = values[0], values[-1]
        out.append(
            {
                "code": code,
                "name": end.name,
                "unit": end.unit_normalised or end.unit,
                "first": _in_unit(start),
                "last": _in_unit(end),
                "change": _shown((_in_unit(end) or 0) - (_in_unit(start) or 0)),
                "count": len(values),
                "abnormal": sum(1 for v in values if v.abnormal),
                "points": [
                    [timezone.localtime(v.effective_at).strftime("%Y-%m-%d"), _in_unit(v)]
                    for v in values
                ],
            }
        )
    return out


def _adherence(patient: Patient, first: date, last: date) -> dict[str, Any]:
    checkins = checkin_days(patient, first, last)
    records = FollowUpRecord.objects.filter(
        patient=patient, at__date__gte=first, at__date__lte=last
    )
    medication = Counter(
        str(a.get("medication_adherence"))
        for a in records.values_list("answers", flat=True)
        if isinstance(a, dict) and a.get("medication_adherence")
    )
    return {"checkin_days": checkins, "medication": dict(medication), "contacts": records.count()}


def _followups(patient: Patient, first: date, last: date) -> dict[str, Any]:
    planned = Task.objects.filter(
        patient=patient, due_at__date__gte=first, due_at__date__lte=last
    ).exclude(status=Task.Status.CANCELLED)
    done = planned.filter(status=Task.Status.DONE).count()
    total = planned.count()
    return {"planned": total, "done": done, "rate": round(done / total, 4) if total else None}


def _goals(patient: Patient, first: date, last: date) -> list[dict[str, Any]]:
    out = []
    enrolments = ProgrammeEnrolment.objects.filter(
        patient=patient, starts_on__lte=last, ends_on__gte=first
    ).select_related("programme", "patient")
    for enrolment in enrolments:
        for goal in progress(enrolment, today=last).goals:
            out.append(
                {
                    "programme": enrolment.programme.name,
                    "goal": goal.goal_text,
                    "latest": goal.latest,
                    "met": goal.met,
                }
            )
    return out


def _alerts(patient: Patient, first: date, last: date) -> list[dict[str, Any]]:
    rows = Alert.objects.filter(
        patient=patient, created_at__date__gte=first, created_at__date__lte=last
    ).order_by("created_at")
    return [
        {
            "title": a.title,
            "raised": timezone.localtime(a.created_at).strftime("%Y-%m-%d"),
            "status": a.get_status_display(),
            "resolution": a.get_resolution_display() if a.resolution else "",
            "outcome": a.outcome,
        }
        for a in rows
    ]


def _next_steps(patient: Patient, last: date, goals: list[dict[str, Any]]) -> list[str]:
    upcoming = Task.objects.filter(
        patient=patient, status=Task.Status.OPEN, due_at__date__gt=last
    ).order_by("due_at")[:5]
    steps = [f"{timezone.localtime(t.due_at):%Y-%m-%d} {t.title}" for t in upcoming]
    steps += [f"继续努力：{g['goal']}" for g in goals if not g["met"]]
    return steps


def generate(patient: Patient, first: date, last: date) -> dict[str, Any]:
    # A Chinese document, kept as generated: its words (goals, alerts' states) in Chinese
    # whichever page's language asked for it.
    with translation.override(settings.LANGUAGE_CODE):
        return _generate(patient, first, last)


def _generate(patient: Patient, first: date, last: date) -> dict[str, Any]:
    goals = _goals(patient, first, last)
    return {
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        "indicators": _indicators(patient, first, last),
        "adherence": _adherence(patient, first, last),
        "followups": _followups(patient, first, last),
        "goals": goals,
        "goals_met": sum(1 for g in goals if g["met"]),
        "alerts": _alerts(patient, first, last),
        "next_steps": _next_steps(patient, last, goals),
    }


def latest(patient: Patient, first: date, last: date) -> StageSummary | None:
    return (
        StageSummary.objects.filter(patient=patient, period_start=first, period_end=last)
        .order_by("-version")
        .first()
    )


def do_save_summary(
    actor: Any,
    patient: Patient,
    first: date,
    last: date,
    *,
    summary: str | None = None,
    next_steps: str | None = None,
    status: str = StageSummary.Status.DRAFT,
    regenerate: bool = False,
) -> StageSummary:
    """A new version for the period: the figures generated now (the first time or when
    ``regenerate``) else kept; the staff's words given or kept."""
    if first > last:
        raise PeriodError(_("the start cannot be after the end"))
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        before = latest(patient, first, last)
        content = generate(patient, first, last) if regenerate or before is None else before.content
        steps = "\n".join(content.get("next_steps", []))
        row = StageSummary.objects.create(
            patient=patient,
            period_start=first,
            period_end=last,
            version=(before.version + 1) if before else 1,
            status=status,
            content=content,
            summary=summary if summary is not None else (before.summary if before else ""),
            next_steps=next_steps
            if next_steps is not None
            else (before.next_steps if before else steps),
            saved_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record(
            actor,
            "create" if before is None else "update",
            "stage_summary",
            row.pk,
            patient_id=patient.pk,
            actor_label="" if getattr(actor, "is_authenticated", False) else "schedule",
            summary=f"stage summary {first}–{last} v{row.version} ({status})",
        )
    return row


def make_due_summaries(today: date | None = None) -> int:
    """Draft last quarter's summary for every patient under follow-up (an active plan or
    programme) who has none for it yet; returns how many were made."""
    first, last = quarter_before(today or timezone.localdate())
    made = 0
    for patient in _undrafted(first, last):
        made += _draft_unless_done(patient, first, last)
    return made


def _undrafted(first: date, last: date) -> Iterator[Patient]:
    """The patients under follow-up without a summary for the period, as of this query."""
    done = StageSummary.objects.filter(patient=OuterRef("pk"), period_start=first, period_end=last)
    followed = Patient.objects.filter(
        Q(plans__status=Plan.Status.ACTIVE) | Q(programmes__status=ProgrammeEnrolment.Status.ACTIVE)
    ).exclude(Exists(done))
    return followed.distinct().iterator()


def _draft_unless_done(patient: Patient, first: date, last: date) -> bool:
    """Draft the period's summary unless the patient has one, asked while holding them: the
    job run twice at once (two schedulers, a restart) must not make a second version."""
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if StageSummary.objects.filter(
            patient=patient, period_start=first, period_end=last
        ).exists():
            return False
        do_save_summary(None, patient, first, last)
    return True

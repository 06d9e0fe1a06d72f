"""Intervention programmes (健康干预, F13): templates with goals on indicators, a patient's
enrolment with their own targets, and progress — each goal's baseline, latest value and
whether it is met, check-ins (days with a reading from the patient page) against expected.

Goals: ``{"indicator": "weight", "direction": "at_most", "target": 70}``; directions
``below`` (<), ``at_most`` (≤), ``at_least`` (≥), ``above`` (>). A goal with ``for_days``
is met when the patient's daily reports meet it that many days in a row, to the latest
(smoking cessation: ``{"indicator": "cigarettes", "direction": "at_most", "target": 0,
"for_days": 28}``, 28 smoke-free days)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from careloop.audit.services import record
from careloop.care.models import Programme, ProgrammeEnrolment
from careloop.care.streaks import Streak, by_day, streak_of
from careloop.clinical.models import Observation, Source
from careloop.patients.models import Lifestyle, Patient

PACK = Path(__file__).with_name("data") / "programmes.json"
# indicator → (LOINC codes, name, unit), in the page's language
INDICATORS: dict[str, tuple[tuple[str, ...], str | Promise, str | Promise]] = {
    "sbp": (("8480-6",), pgettext_lazy("reading", "Systolic BP"), "mmHg"),
    "dbp": (("8462-4",), pgettext_lazy("reading", "Diastolic BP"), "mmHg"),
    "weight": (("29463-7",), pgettext_lazy("reading", "Weight"), "kg"),
    "steps": (("55423-8",), gettext_lazy("Daily steps"), pgettext_lazy("unit", "steps")),
    "hba1c": (("4548-4", "17856-6"), gettext_lazy("HbA1c"), "%"),
    "fpg": (("14771-0",), gettext_lazy("Fasting glucose"), "mmol/L"),
    # LOINC 64218-1 "How many cigarettes do you smoke per day now [PhenX]"
    "cigarettes": (
        ("64218-1",),
        pgettext_lazy("indicator", "Cigarettes a day"),
        pgettext_lazy("unit", "cigarettes/day"),
    ),
}
# Counts whose goal can be none at all (to quit: at most 0 cigarettes a day), each with the
# most that is believable as a target.
CAN_BE_NONE = {"cigarettes": 100}
LONGEST_RUN = 366  # days in a row a goal can ask for
DIRECTIONS = {"below": "<", "at_most": "≤", "at_least": "≥", "above": ">"}


class ProgrammeError(ValueError):
    pass


def check_goals(goals: Any) -> list[dict[str, Any]]:
    if not isinstance(goals, list) or not goals:
        raise ProgrammeError(_("At least one goal is needed."))
    out = []
    for n, goal in enumerate(goals):
        where = _("Goal %(n)s") % {"n": n + 1}
        if not isinstance(goal, dict) or goal.get("indicator") not in INDICATORS:
            raise ProgrammeError(
                _("%(where)s: the indicator must be one of %(names)s")
                % {"where": where, "names": ", ".join(INDICATORS)}
            )
        if goal.get("direction") not in DIRECTIONS:
            raise ProgrammeError(
                _("%(where)s: the direction must be one of %(names)s")
                % {"where": where, "names": ", ".join(DIRECTIONS)}
            )
        target = goal.get("target")
        if goal["indicator"] in CAN_BE_NONE:
            target = _check_count(where, goal["direction"], target, CAN_BE_NONE[goal["indicator"]])
        elif isinstance(target, bool) or not isinstance(target, int | float) or target <= 0:
            raise ProgrammeError(
                _("%(where)s: the target must be a positive number") % {"where": where}
            )
        checked = {"indicator": goal["indicator"], "direction": goal["direction"], "target": target}
        if "for_days" in goal:
            days = goal["for_days"]
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= LONGEST_RUN:
                raise ProgrammeError(
                    _("%(where)s: the days in a row must be a whole number from 1 to %(most)s")
                    % {"where": where, "most": LONGEST_RUN}
                )
            checked["for_days"] = days
        out.append(checked)
    return out


def _check_count(where: str, direction: str, target: Any, most: int) -> int:
    """A count that can be none (cigarettes): a whole number from 0 to ``most``, and a goal
    that can be met and missed (below 0 never is, at least 0 always is)."""
    if (
        isinstance(target, bool)
        or not isinstance(target, int | float)
        or target != int(target)
        or not 0 <= target <= most
    ):
        raise ProgrammeError(
            _("%(where)s: the target must be a whole number from 0 to %(most)s")
            % {"where": where, "most": most}
        )
    if target == 0 and direction == "below":
        raise ProgrammeError(_("%(where)s: nobody has fewer than 0; use “≤ 0”") % {"where": where})
    if target == 0 and direction == "at_least":
        raise ProgrammeError(
            _("%(where)s: “≥ 0” is met by everyone; give a target above 0") % {"where": where}
        )
    return int(target)


def load_programmes() -> int:
    """Save the shipped programme templates that are not there yet; returns how many."""
    made = 0
    for data in json.loads(PACK.read_text(encoding="utf-8"))["programmes"]:
        _row, created = Programme.objects.get_or_create(
            code=data["code"],
            defaults={
                **{k: v for k, v in data.items() if k != "goals"},
                "goals": check_goals(data["goals"]),
            },
        )
        made += created
    return made


def do_enrol(
    actor: Any, patient: Patient, programme: Programme, starts_on: date, targets: dict[str, float]
) -> ProgrammeEnrolment:
    """Put ``patient`` on ``programme`` from ``starts_on`` with their own targets (by
    indicator; the template's where not given)."""
    goals = check_goals(
        [{**g, "target": targets.get(g["indicator"], g["target"])} for g in programme.goals]
    )
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one at a time
        if ProgrammeEnrolment.objects.filter(
            patient=patient, programme=programme, status=ProgrammeEnrolment.Status.ACTIVE
        ).exists():
            raise ProgrammeError(
                _("The patient is already in “%(name)s”.") % {"name": programme.name}
            )
        row = ProgrammeEnrolment.objects.create(
            patient=patient,
            programme=programme,
            goals=goals,
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=programme.duration_days - 1),
            enrolled_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record(
            actor,
            "create",
            "programme_enrolment",
            row.pk,
            patient_id=patient.pk,
            summary=f"enrolled in programme {programme.code}",
        )
    return row


def do_stop(actor: Any, enrolment: ProgrammeEnrolment) -> None:
    enrolment.status = ProgrammeEnrolment.Status.STOPPED
    enrolment.save(update_fields=["status"])
    record(
        actor,
        "update",
        "programme_enrolment",
        enrolment.pk,
        patient_id=enrolment.patient_id,
        summary="programme stopped",
    )


def met(direction: str, value: float, target: float) -> bool:
    return {
        "below": value < target,
        "at_most": value <= target,
        "at_least": value >= target,
        "above": value > target,
    }[direction]


@dataclass
class GoalProgress:
    indicator: str
    name: str
    unit: str
    direction: str
    target: float
    baseline: float | None
    latest: float | None
    met: bool
    points: list[tuple[str, float]] = field(default_factory=list)
    for_days: int | None = None  # met when the daily reports meet it this many days in a row
    streak: Streak | None = None  # the run of days, for a goal with ``for_days``

    @property
    def goal_text(self) -> str:
        text = f"{self.name} {DIRECTIONS[self.direction]} {self.target:g} {self.unit}"
        if self.for_days:
            return _("%(goal)s, %(n)s days in a row") % {"goal": text, "n": self.for_days}
        return text

    @property
    def baseline_text(self) -> str:
        return "—" if self.baseline is None else f"{self.baseline:g}"

    @property
    def latest_text(self) -> str:  # 0 cigarettes, not 0.0
        return "—" if self.latest is None else f"{self.latest:g}"

    @property
    def days_left(self) -> int:
        """Days in a row still to go for a ``for_days`` goal."""
        done = self.streak.days if self.streak else 0
        return max((self.for_days or 0) - done, 0)


@dataclass
class Progress:
    enrolment: ProgrammeEnrolment
    goals: list[GoalProgress]
    checkins: int
    expected_checkins: int

    @property
    def goals_met(self) -> int:
        return sum(g.met for g in self.goals)

    @property
    def smoking(self) -> GoalProgress | None:
        """The goal on cigarettes a day (a smoking-cessation programme), if any."""
        return next((g for g in self.goals if g.indicator == "cigarettes"), None)


def _values(patient: Patient, codes: tuple[str, ...], first: date, last: date) -> list[Any]:
    return list(
        Observation.objects.filter(
            patient=patient,
            code__in=codes,
            value__isnull=False,
            effective_at__date__gte=first,
            effective_at__date__lte=last,
        ).order_by("effective_at", "id")
    )


def progress(enrolment: ProgrammeEnrolment, today: date | None = None) -> Progress:
    today = today or timezone.localdate()
    first, last = enrolment.starts_on, min(enrolment.ends_on, today)
    patient = enrolment.patient
    goals = []
    for goal in enrolment.goals:
        codes, name, unit = INDICATORS[goal["indicator"]]
        values = _values(patient, codes, first, last)
        before = (
            Observation.objects.filter(
                patient=patient, code__in=codes, value__isnull=False, effective_at__date__lt=first
            )
            .order_by("-effective_at")
            .values_list("value", flat=True)
            .first()
        )
        baseline = before if before is not None else (values[0].value if values else None)
        if before is None and goal["indicator"] == "cigarettes":
            # Before the quit date the record's 吸烟量 says how much the patient smoked.
            said = Lifestyle.objects.filter(patient=patient).first()
            if said is not None and said.cigarettes_per_day is not None:
                baseline = float(said.cigarettes_per_day)
        latest = values[-1].value if values else None
        is_met = latest is not None and met(goal["direction"], latest, goal["target"])
        streak = None
        if goal.get("for_days"):
            streak = streak_of(
                by_day(values), lambda v, g=goal: met(g["direction"], v, g["target"])
            )
            is_met = streak.days >= goal["for_days"]
        goals.append(
            GoalProgress(
                goal["indicator"],
                str(name),
                str(unit),
                goal["direction"],
                goal["target"],
                baseline,
                latest,
                is_met,
                [(timezone.localtime(o.effective_at).strftime("%m-%d"), o.value) for o in values],
                goal.get("for_days"),
                streak,
            )
        )
    days = checkin_days(patient, first, last)
    elapsed = max((last - first).days + 1, 0)
    expected = max(1, elapsed // enrolment.programme.checkin_every_days) if elapsed else 0
    return Progress(enrolment, goals, days, expected)


def checkin_days(patient: Patient, first: date, last: date) -> int:
    """Days from ``first`` to ``last`` on which the patient recorded a reading on their page."""
    return (
        Observation.objects.filter(
            patient=patient,
            source=Source.PATIENT,
            effective_at__date__gte=first,
            effective_at__date__lte=last,
        )
        .annotate(day=TruncDate("effective_at"))
        .values("day")
        .distinct()
        .count()
    )


def active_progress(patient: Patient) -> list[Progress]:
    rows = ProgrammeEnrolment.objects.filter(
        patient=patient, status=ProgrammeEnrolment.Status.ACTIVE
    ).select_related("programme", "patient")
    return [progress(row) for row in rows]

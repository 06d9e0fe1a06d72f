"""A patient's ``advice.Profile`` from their record: age and sex, active diagnoses and past
history, latest result flags, latest risk assessments, smoking, the latest PHQ-9 total and
tags."""

from __future__ import annotations

from typing import Any

from careloop.care.advice import Profile
from careloop.clinical.models import Condition, Observation
from careloop.patients.models import Lifestyle, Patient
from careloop.questionnaires.models import QuestionnaireResponse
from careloop.rules.models import RiskAssessment


def _latest_flags(patient: Patient) -> tuple[set[str], set[str]]:
    high, low, seen = set(), set(), set()
    rows = (
        Observation.objects.filter(patient=patient)
        .exclude(code="")
        .order_by("-effective_at", "-id")
    )
    for code, flag in rows.values_list("code", "interpretation")[:2000]:
        if code in seen:
            continue
        seen.add(code)
        if flag in ("H", "HH"):
            high.add(code)
        elif flag in ("L", "LL"):
            low.add(code)
    return high, low


def _latest_assessments(patient: Patient) -> dict[str, str]:
    latest: dict[str, str] = {}
    for model, category in RiskAssessment.objects.filter(patient=patient).values_list(
        "model", "category"
    ):  # newest first (the model's ordering)
        latest.setdefault(model, category)
    return latest


def profile_of(patient: Patient) -> Profile:
    codes = list(
        Condition.objects.filter(patient=patient, clinical_status="active").values_list(
            "icd10_code", flat=True
        )
    )
    codes += [c for c in patient.past_history.values_list("icd10_code", flat=True) if c]
    high, low = _latest_flags(patient)
    lifestyle: Any = Lifestyle.objects.filter(patient=patient).first()
    phq9 = (
        QuestionnaireResponse.objects.filter(patient=patient, version__questionnaire__code="phq9")
        .order_by("-submitted_at")
        .values_list("total", flat=True)
        .first()
    )
    return Profile(
        age=patient.age,
        sex=patient.sex,
        icd10=tuple(dict.fromkeys(codes)),
        high=frozenset(high),
        low=frozenset(low),
        assessments=_latest_assessments(patient),
        smoker=bool(lifestyle and lifestyle.smoking == Lifestyle.Smoking.CURRENT),
        phq9=phq9,
        tags=frozenset(patient.tags.values_list("tag__name", flat=True)),
    )

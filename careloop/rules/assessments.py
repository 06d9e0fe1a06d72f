"""Risk assessments on the record (F6): the clinical models of ``rules.risk`` run on the
patient's latest results whenever one of their inputs arrives, the result stored with its
inputs, version and explanation when it differs from the last one.

Models assessed from results: BP grade, BMI class, eGFR with CKD stage, glucose category,
lipid categories. China-PAR, the Chinese diabetes risk score and FINDRISC also need waist,
smoking, family history and region from the health record; they are not assessed
automatically yet (``careloop assess`` runs them on given inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Max, QuerySet, Subquery
from django.utils import timezone

from careloop.bulk import BulkInsert
from careloop.patients.identity import age_on
from careloop.rules.models import RiskAssessment
from careloop.rules.risk.base import InputError
from careloop.rules.risk.registry import get_model

LOOKBACK_DAYS = 365  # an input older than a year is not used
SBP, DBP = ("8480-6",), ("8462-4",)
HEIGHT, WEIGHT = ("8302-2",), ("29463-7",)
CREATININE = ("14682-9",)
FPG, HBA1C = ("14771-0", "1558-6"), ("4548-4", "17856-6")
TC, LDL = ("14647-2", "2093-3"), ("22748-8", "2089-1", "13457-7")
HDL, TG = ("14646-4", "2085-9"), ("14927-8", "2571-8")

Latest = Callable[[tuple[str, ...]], float | None]


def _bp(latest: Latest, sex: str, age: int | None) -> dict[str, Any] | None:
    sbp, dbp = latest(SBP), latest(DBP)
    if sbp is None or dbp is None:
        return None
    return {"sbp_mmHg": sbp, "dbp_mmHg": dbp, "on_antihypertensive": False}


def _bmi(latest: Latest, sex: str, age: int | None) -> dict[str, Any] | None:
    height, weight = latest(HEIGHT), latest(WEIGHT)
    if height is None or weight is None:
        return None
    return {"height_cm": height, "weight_kg": weight}


def _egfr(latest: Latest, sex: str, age: int | None) -> dict[str, Any] | None:
    creatinine = latest(CREATININE)
    if creatinine is None or age is None or sex not in ("male", "female"):
        return None
    return {"age": age, "sex": sex, "creatinine_umol_L": creatinine}


def _glucose(latest: Latest, sex: str, age: int | None) -> dict[str, Any] | None:
    values = {"fpg": latest(FPG), "hba1c_percent": latest(HBA1C)}
    return values if any(v is not None for v in values.values()) else None


def _lipids(latest: Latest, sex: str, age: int | None) -> dict[str, Any] | None:
    values = {"tc": latest(TC), "ldl_c": latest(LDL), "hdl_c": latest(HDL), "tg": latest(TG)}
    return values if any(v is not None for v in values.values()) else None


# model → (its input codes, how to build its input, the result key that is its category;
# for lipids the LDL-C category, the one treatment targets)
MODELS: dict[str, tuple[tuple[str, ...], Callable[..., dict[str, Any] | None], str]] = {
    "bp-grade": (SBP + DBP, _bp, "category"),
    "bmi": (HEIGHT + WEIGHT, _bmi, "category"),
    "egfr": (CREATININE, _egfr, "category"),
    "glucose": (FPG + HBA1C, _glucose, "glucose_category"),
    "lipids": (TC + LDL + HDL + TG, _lipids, "ldl_c"),
}
NOTES = {"bp-grade": "档案未标记是否服用降压药，按未服药评估。"}
CODES = {code for codes, _, _ in MODELS.values() for code in codes}


def reassess(
    new_codes: dict[int, set[str]],
    *,
    readings: dict[int, dict[str, list[Any]]],
    profiles: dict[int, tuple[str, date | None]],
    now: datetime | None = None,
) -> list[NewAssessment]:
    """Run the models an arriving result feeds, for each patient (id → new codes), on the
    ``readings`` already loaded (patient → code → oldest first). Returns the assessments
    whose inputs changed, not saved yet (the caller stores them in its transaction)."""
    now = now or timezone.now()
    since = now - timedelta(days=LOOKBACK_DAYS)
    today = timezone.localtime(now).date()
    wanted = {
        pk: [m for m, (c, _, _) in MODELS.items() if set(c) & codes]
        for pk, codes in new_codes.items()
    }
    wanted = {pk: models for pk, models in wanted.items() if models}
    if not wanted:
        return []
    last_inputs = {
        (pk, model): inputs
        for pk, model, inputs in _latest(list(wanted)).values_list("patient_id", "model", "inputs")
    }
    new = []
    for pk, models in wanted.items():
        sex, birth = profiles.get(pk, ("", None))
        age = age_on(birth, today) if birth else None
        series = readings.get(pk, {})

        def latest(codes: tuple[str, ...], series: dict[str, list[Any]] = series) -> float | None:
            found = [
                r for c in codes for r in series.get(c, []) if r.value is not None and r.at >= since
            ]
            return max(found, key=lambda r: r.at).value if found else None

        for model in models:
            inputs = MODELS[model][1](latest, sex, age)
            if inputs is None:
                continue
            try:  # inputs built here are already typed: no JSON coercion needed
                spec = get_model(model)
                result = spec.run(spec.input_type(**inputs)).as_dict()
            except InputError:  # a value outside what the model accepts: not assessed
                continue
            if model in NOTES:
                result["warnings"].append(NOTES[model])
            if last_inputs.get((pk, model)) == result["inputs"]:
                continue
            new.append(
                NewAssessment(
                    pk,
                    model,
                    result["version"],
                    str(result.get(MODELS[model][2]) or "")[:50],
                    result["inputs"],
                    result,
                    result["explanation"],
                    now,
                )
            )
    return new


@dataclass
class NewAssessment:
    """An assessment to store: the row, in ``ROW_FIELDS`` order by ``row()``."""

    patient_id: int
    model: str
    version: str
    category: str
    inputs: dict[str, Any]
    result: dict[str, Any]
    explanation: str
    assessed_at: datetime

    def row(self) -> tuple[Any, ...]:
        return (
            self.patient_id,
            self.model,
            self.version,
            self.category,
            self.inputs,
            self.result,
            self.explanation,
            self.assessed_at,
        )


ROW_FIELDS = [
    "patient_id",
    "model",
    "version",
    "category",
    "inputs",
    "result",
    "explanation",
    "assessed_at",
]


def store(new: list[NewAssessment]) -> None:
    """Insert the assessments with one statement (values converted once, no model objects)."""
    if new:
        insert = BulkInsert(RiskAssessment, ROW_FIELDS)
        insert.execute([insert.prepare(item.row()) for item in new])


def current_categories(patient_ids: list[int]) -> dict[int, dict[str, str]]:
    """Each patient's current result per model (the latest assessment)."""
    found: dict[int, dict[str, str]] = {}
    for pk, model, category in _latest(patient_ids).values_list("patient_id", "model", "category"):
        found.setdefault(pk, {})[model] = category
    return found


def _latest(patient_ids: list[int]) -> QuerySet[RiskAssessment]:
    """The latest assessment of each (patient, model): the highest id (rows are only ever
    added, in time order), found by the index on patient, model, time."""
    newest = (
        RiskAssessment.objects.filter(patient_id__in=patient_ids)
        .values("patient_id", "model")
        .annotate(newest=Max("id"))
        .values("newest")
    )
    return RiskAssessment.objects.filter(id__in=Subquery(newest))


LABELS = {
    "bp-grade": "血压分级",
    "bmi": "体重指数（BMI）",
    "egfr": "肾功能（eGFR / CKD 分期）",
    "glucose": "血糖状态",
    "lipids": "血脂（LDL-C 分层）",
    "tcm-constitution": "中医体质",
}


@dataclass
class Shown:
    label: str
    latest: RiskAssessment
    earlier: list[RiskAssessment]


def for_patient(patient_id: int) -> list[Shown]:
    """The patient's assessments for their page: the current one per model, with history."""
    by_model: dict[str, list[RiskAssessment]] = {}
    for item in RiskAssessment.objects.filter(patient_id=patient_id).order_by(
        "-assessed_at", "-id"
    ):
        by_model.setdefault(item.model, []).append(item)
    return [
        Shown(LABELS.get(model, model), items[0], items[1:10])
        for model, items in sorted(by_model.items(), key=lambda kv: _order(kv[0]))
    ]


def _order(model: str) -> int:
    return list(LABELS).index(model) if model in LABELS else len(LABELS)

"""Risk assessments on the record (F6): the clinical models of ``rules.risk`` run on the
patient's latest results whenever one of their inputs arrives, the result stored with its
inputs, version and explanation when it differs from the last one.

Models assessed from results: BP grade, BMI class, eGFR with CKD stage, glucose category,
lipid categories. China-PAR, the Chinese diabetes risk score and FINDRISC also read the
health record (``record_inputs``: smoking, exercise, diet, medicines, diagnoses, family
history, the organisation's region); they run when a result they read arrives and when the
record changes (``reassess_record``), and not while an input they need is unknown.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Max, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.bulk import BulkInsert
from careloop.patients.identity import age_on
from careloop.rules.models import RiskAssessment
from careloop.rules.record_inputs import Record, has_prefix, load_records
from careloop.rules.risk.base import InputError
from careloop.rules.risk.bmi import bmi_value
from careloop.rules.risk.htn_high_risk import OLDER_AGE, SCREENED_FROM
from careloop.rules.risk.registry import get_model

LOOKBACK_DAYS = 365  # an input older than a year is not used
ADULT_FROM = 18  # BP grades, BMI and waist classes are adults'
SBP, DBP = ("8480-6",), ("8462-4",)
HEIGHT, WEIGHT = ("8302-2",), ("29463-7",)
CREATININE = ("14682-9", "2160-0")
FPG, HBA1C = ("14771-0", "1558-6"), ("4548-4", "17856-6")
TC, LDL = ("14647-2", "2093-3"), ("22748-8", "2089-1", "13457-7", "18262-6")
HDL, TG = ("14646-4", "2085-9"), ("14927-8", "2571-8")
WAIST = ("8280-0",)

Latest = Callable[[tuple[str, ...]], float | None]
NOT_APPLICABLE = "不适用"


@dataclass(frozen=True)
class Stopped:
    """A model that no longer applies to the patient (a diabetes risk score once diabetes is
    known): its last result is closed with a row saying so, not left standing as current."""

    reason: str  # a key, stored as the row's inputs
    explanation: str


AGED_OUT = Stopped("age", "年龄已超出本模型的适用范围，不再评估。")
KNOWN_DIABETES = Stopped("known_diabetes", "已确诊糖尿病（诊断或在服降糖药），不再评估糖尿病风险。")
# A grade or class of adults' standards: one standing for a child (stored before they were
# adults only, or before the birth date was corrected) is closed, not left as current.
NOT_ADULT = Stopped("not_adult", "本标准适用于18岁及以上成人，不用于未成年人。")
NOT_SCREENED = Stopped("age", "高血压筛查适用于35岁及以上居民。")


def _bp(latest: Latest, sex: str, age: int | None, r: Record) -> dict[str, Any] | Stopped | None:
    """The grade of the reading; a patient whose record has an antihypertensive medicine
    taken now is hypertensive whatever the reading (REFERENCE §4.1). Adults only: the grades
    of the Chinese hypertension guideline are adults'."""
    sbp, dbp = latest(SBP), latest(DBP)
    if sbp is None or dbp is None or age is None:
        return None
    if age < ADULT_FROM:
        return NOT_ADULT
    return {"sbp_mmHg": sbp, "dbp_mmHg": dbp, "on_antihypertensive": r.antihypertensive_now}


def _bmi(latest: Latest, sex: str, age: int | None, _r: Record) -> dict[str, Any] | Stopped | None:
    """Adults only: the classes are adults' (WS/T 428-2013), as the waist's are."""
    height, weight = latest(HEIGHT), latest(WEIGHT)
    if height is None or weight is None or age is None:
        return None
    if age < ADULT_FROM:
        return NOT_ADULT
    return {"height_cm": height, "weight_kg": weight}


def _waist(latest: Latest, sex: str, age: int | None, _r: Record) -> dict[str, Any] | None:
    """Adults only: the cut-offs are for adults (WS/T 428-2013)."""
    waist = latest(WAIST)
    if waist is None or sex not in ("male", "female") or age is None or age < ADULT_FROM:
        return None
    return {"sex": sex, "waist_cm": waist}


def _egfr(latest: Latest, sex: str, age: int | None, _r: Record) -> dict[str, Any] | None:
    creatinine = latest(CREATININE)
    if creatinine is None or age is None or sex not in ("male", "female"):
        return None
    return {"age": age, "sex": sex, "creatinine_umol_L": creatinine}


def _glucose(latest: Latest, sex: str, age: int | None, _r: Record) -> dict[str, Any] | None:
    values = {"fpg": latest(FPG), "hba1c_percent": latest(HBA1C)}
    return values if any(v is not None for v in values.values()) else None


def _lipids(latest: Latest, sex: str, age: int | None, _r: Record) -> dict[str, Any] | None:
    values = {"tc": latest(TC), "ldl_c": latest(LDL), "hdl_c": latest(HDL), "tg": latest(TG)}
    return values if any(v is not None for v in values.values()) else None


def _body(latest: Latest) -> tuple[float, float] | None:
    """BMI (one decimal, rounded half up exactly as the BMI model gives it, so the BMI the
    diabetes scores use is the one the patient's BMI result shows) and waist, when both are
    known."""
    height, weight, waist = latest(HEIGHT), latest(WEIGHT), latest(WAIST)
    if height is None or weight is None or waist is None or height <= 0:
        return None
    return bmi_value(height, weight), waist


def _china_par(latest: Latest, sex: str, age: int | None, r: Record) -> dict[str, Any] | None:
    values = {
        "sbp_mmHg": latest(SBP),
        "waist_cm": latest(WAIST),
        "tc_mmol_L": latest(TC),
        "hdl_mmol_L": latest(HDL),
    }
    if sex not in ("male", "female") or age is None:
        return None
    if r.existing_ascvd:  # not scored: 极高危 whatever the rest
        return {"sex": sex, "age": age, "existing_ascvd": True}
    urban = r.urban if sex == "male" else False  # the women's model has no urban term
    if any(v is None for v in (*values.values(), r.smoking, r.region_north, urban)):
        return None
    return {
        "sex": sex,
        "age": age,
        **values,
        "on_antihypertensive": r.antihypertensive_now,
        "current_smoker": r.smoking == "current",
        "diabetes": r.diabetes,
        "region_north": r.region_north,
        "urban": r.urban,
        "family_history_ascvd": r.family_history_ascvd,
        "existing_ascvd": r.existing_ascvd,
    }


def _cdrs(latest: Latest, sex: str, age: int | None, r: Record) -> dict[str, Any] | Stopped | None:
    if r.diabetes:
        return KNOWN_DIABETES  # not scored with known diabetes
    body, sbp = _body(latest), latest(SBP)
    if body is None or sbp is None or age is None or sex not in ("male", "female"):
        return None
    return {
        "age": age,
        "sex": sex,
        "sbp_mmHg": sbp,
        "bmi": body[0],
        "waist_cm": body[1],
        "family_history_diabetes": r.family_diabetes == "first_degree",
    }


def _findrisc(
    latest: Latest, sex: str, age: int | None, r: Record
) -> dict[str, Any] | Stopped | None:
    if r.diabetes:
        return KNOWN_DIABETES
    body = _body(latest)
    known = (age, r.active_30min_daily, r.vegetables_fruit_daily)
    if body is None or any(v is None for v in known) or sex not in ("male", "female"):
        return None
    return {
        "age": age,
        "sex": sex,
        "bmi": body[0],
        "waist_cm": body[1],
        "physical_activity_30min_daily": r.active_30min_daily,
        "vegetables_fruit_daily": r.vegetables_fruit_daily,
        "antihypertensive_medication": r.antihypertensive_ever,
        "history_high_glucose": r.high_glucose_ever or has_prefix(r.diagnoses, ("R73",)),
        "family_history": r.family_diabetes,
    }


HYPERTENSIVE = Stopped(
    "hypertension", "已确诊高血压（诊断或在服降压药）：按高血压患者健康管理，不再按高危人群筛查。"
)


def _htn_high_risk(
    latest: Latest, sex: str, age: int | None, r: Record
) -> dict[str, Any] | Stopped | None:
    """Hypertension high-risk people (REFERENCE §1.1): adults not known to be hypertensive;
    what the record does not say counts as absent and is named."""
    if r.hypertension:
        return HYPERTENSIVE
    if age is None or sex not in ("male", "female"):
        return None
    if age < SCREENED_FROM:
        return NOT_SCREENED
    height, weight = latest(HEIGHT), latest(WEIGHT)
    bmi = bmi_value(height, weight) if height and weight and height > 0 else None
    return {
        "age": age,
        "sex": sex,
        "sbp_mmHg": latest(SBP),
        "dbp_mmHg": latest(DBP),
        "bmi": bmi,
        "waist_cm": latest(WAIST),
        "family_history_hypertension": r.family_hypertension,
        "high_salt_diet": None if r.salt_intake is None else r.salt_intake == "heavy",
        "spirits_ml_per_day": r.spirits_ml_per_day,
    }


def _cdrs_category(result: dict[str, Any]) -> str:
    return "高风险" if result["high_risk"] else "低风险"


Category = str | Callable[[dict[str, Any]], str]
# model → (its input codes, how to build its input, its category: a result key or a function
# of the result; for lipids the LDL-C category, the one treatment targets)
Inputs = Callable[..., dict[str, Any] | Stopped | None]
MODELS: dict[str, tuple[tuple[str, ...], Inputs, Category]] = {
    "bp-grade": (SBP + DBP, _bp, "category"),
    "bmi": (HEIGHT + WEIGHT, _bmi, "category"),
    "waist": (WAIST, _waist, "category"),
    "egfr": (CREATININE, _egfr, "category"),
    "glucose": (FPG + HBA1C, _glucose, "glucose_category"),
    "lipids": (TC + LDL + HDL + TG, _lipids, "ldl_c"),
    "china-par": (SBP + TC + HDL + WAIST, _china_par, "category"),
    "cdrs": (SBP + HEIGHT + WEIGHT + WAIST, _cdrs, _cdrs_category),
    "findrisc": (HEIGHT + WEIGHT + WAIST + FPG + HBA1C, _findrisc, "category"),
    "htn-high-risk": (SBP + DBP + HEIGHT + WEIGHT + WAIST, _htn_high_risk, "category"),
}
# They also read the health record (bp-grade: whether an antihypertensive is taken now).
RECORD_MODELS = ("bp-grade", "china-par", "cdrs", "findrisc", "htn-high-risk")
UNTREATED_NOTE = "档案未记录在服降压药，按未服药评估。"
UNTREATED_NOTED = ("bp-grade", "china-par")  # they say so when the record has none
CODES = {code for codes, _, _ in MODELS.values() for code in codes}
RECORD_CODES = {code for model in RECORD_MODELS for code in MODELS[model][0]}


@functools.cache
def models_fed(codes: frozenset[str]) -> tuple[str, ...]:
    """The models a result of any of ``codes`` is an input of (asked once per patient of a
    batch, of a handful of distinct code sets)."""
    return tuple(model for model, (inputs, _, _) in MODELS.items() if codes.intersection(inputs))


@functools.cache
def codes_read(codes: frozenset[str]) -> frozenset[str]:
    """Every code read by the models a result of any of ``codes`` feeds."""
    return frozenset(code for model in models_fed(codes) for code in MODELS[model][0])


def _category(model: str, result: dict[str, Any]) -> str:
    key = MODELS[model][2]
    return str((key(result) if callable(key) else result.get(key)) or "")[:50]


def reassess(
    new_codes: dict[int, set[str]],
    *,
    readings: Mapping[int, Mapping[str, list[Any]]],
    profiles: dict[int, tuple[str, date | None]],
    now: datetime | None = None,
    only: tuple[str, ...] | None = None,
) -> list[NewAssessment]:
    """Run the models an arriving result feeds, for each patient (id → new codes), on the
    ``readings`` already loaded (patient → code → oldest first) and, for the models that
    read it, the health record. Returns the assessments whose inputs changed, not saved yet
    (the caller stores them in its transaction). ``only``: just these models."""
    now = now or timezone.now()
    since = now - timedelta(days=LOOKBACK_DAYS)
    today = timezone.localtime(now).date()
    wanted = {
        pk: [m for m in models_fed(frozenset(codes)) if m in (only or MODELS)]
        for pk, codes in new_codes.items()
    }
    wanted = {pk: models for pk, models in wanted.items() if models}
    if not wanted:
        return []
    reading_record = [pk for pk, models in wanted.items() if set(models) & set(RECORD_MODELS)]
    records = load_records([pk for pk in reading_record if pk > 0])
    last = {
        (pk, model): (inputs, version)
        for pk, model, inputs, version in latest_values(
            [pk for pk in wanted if pk > 0],  # one being enrolled (pending) has none
            {m for models in wanted.values() for m in models},
            ("inputs", "version"),
        )
    }
    new = []
    for pk, models in wanted.items():
        sex, birth = profiles.get(pk, ("", None))
        age = age_on(birth, today) if birth else None
        series = readings.get(pk, {})

        def latest(
            codes: tuple[str, ...], series: Mapping[str, list[Any]] = series
        ) -> float | None:
            found = [
                r for c in codes for r in series.get(c, []) if r.value is not None and r.at >= since
            ]
            return max(found, key=lambda r: r.at).value if found else None

        record = records.get(pk, Record())
        for model in models:
            inputs = MODELS[model][1](latest, sex, age, record)
            if isinstance(inputs, Stopped):
                new.extend(_closing(pk, model, inputs, last, now))
                continue
            if inputs is None:
                continue
            if _same_finding(model, last.get((pk, model), (None,))[0], inputs):
                continue
            try:  # inputs built here are already typed: no JSON coercion needed
                spec = get_model(model)
                result = spec.run(spec.input_type(**inputs)).as_dict()
            except InputError as error:  # a value outside what the model accepts
                if error.field == "age":  # aged out of the model
                    new.extend(_closing(pk, model, AGED_OUT, last, now))
                continue
            if model in UNTREATED_NOTED and not record.antihypertensive_now:
                result["warnings"].append(UNTREATED_NOTE)
            if last.get((pk, model), (None,))[0] == result["inputs"]:
                continue
            new.append(
                NewAssessment(
                    pk,
                    model,
                    result["version"],
                    _category(model, result),
                    result["inputs"],
                    result,
                    result["explanation"],
                    now,
                )
            )
    return new


def _htn_finding(inputs: Any) -> tuple[Any, ...] | None:
    """The screening's finding (``htn_high_risk.finding``) for inputs as built or stored;
    None for inputs that are not a screening's (a closing row's)."""
    from careloop.rules.risk.htn_high_risk import HtnHighRiskInput, finding

    try:
        return finding(HtnHighRiskInput(**inputs))
    except (TypeError, InputError):
        return None


# Models stored again only when their finding changes, not whenever an input does (checked
# before the model runs): the hypertension screening reads every blood pressure, and a row
# per reading (as the BP grade stores) cost the rules 13% of their speed on PostgreSQL.
FINDINGS = {"htn-high-risk": _htn_finding}


def _same_finding(model: str, previous: Any, inputs: dict[str, Any]) -> bool:
    finding = FINDINGS.get(model)
    if finding is None or not isinstance(previous, dict):
        return False
    before = finding(previous)
    return before is not None and before == finding(inputs)


def _closing(
    pk: int, model: str, why: Stopped, last: dict[tuple[int, str], Any], now: datetime
) -> list[NewAssessment]:
    """The row closing a model that no longer applies, when it has a result standing:
    category 不适用, the reason as its inputs (so it is stored once), the last version."""
    if (pk, model) not in last or last[pk, model][0] == {"stopped": why.reason}:
        return []
    result = {"applies": False, "explanation": why.explanation, "warnings": []}
    inputs = {"stopped": why.reason}
    version = last[pk, model][1]
    return [NewAssessment(pk, model, version, NOT_APPLICABLE, inputs, result, why.explanation, now)]


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
    for pk, model, category in latest_values(patient_ids, MODELS, ("category",)):
        found.setdefault(pk, {})[model] = category
    return found


def latest_values(
    patient_ids: list[int], models: Iterable[str], columns: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """(patient, model, *columns) of the latest assessment of each patient and model: the
    highest id (rows are only ever added, in time order).

    PostgreSQL looks up each pair through the index on patient, model and time (a LATERAL
    join), reading only that pair's rows: sorting all of the patients' rows to keep the
    newest of each cost more than the rest of a rules batch's queries together. SQLite finds
    the highest id of each pair, then its row."""
    models = sorted(models)
    if not patient_ids or not models:
        return []
    if connection.vendor != "postgresql":
        newest = (
            RiskAssessment.objects.filter(patient_id__any_of=patient_ids, model__in=models)
            .values("patient_id", "model")
            .annotate(newest=Max("id"))
            .values("newest")
        )
        rows = RiskAssessment.objects.filter(id__in=Subquery(newest)).order_by()
        return list(rows.values_list("patient_id", "model", *columns))
    table = connection.ops.quote_name(RiskAssessment._meta.db_table)
    wanted = ", ".join(f"r.{connection.ops.quote_name(c)}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, m.model, {wanted} FROM unnest(%s::bigint[]) AS p(id) "  # noqa: S608
            "CROSS JOIN unnest(%s::text[]) AS m(model) "
            f"CROSS JOIN LATERAL (SELECT * FROM {table} a "
            "WHERE a.patient_id = p.id AND a.model = m.model "
            "ORDER BY a.id DESC LIMIT 1) r",
            [list(patient_ids), models],
        )
        rows = cursor.fetchall()
    # As the ORM would: each field converts its value (Django has psycopg hand JSON as text).
    fields = [RiskAssessment._meta.get_field(c) for c in columns]
    convert = [getattr(f, "from_db_value", None) for f in fields]
    return [
        (
            pk,
            model,
            *(c(v, None, connection) if c else v for c, v in zip(convert, values, strict=True)),
        )
        for pk, model, *values in rows
    ]


# The page's language (a Chinese report prints them in Chinese: care.report renders in it).
LABELS = {
    "bp-grade": _("Blood pressure grade"),  # 血压分级
    "bmi": _("Body mass index (BMI)"),  # 体重指数（BMI）
    "waist": _("Waist (central obesity)"),  # 腰围（中心型肥胖）
    "egfr": _("Kidney function (eGFR / CKD stage)"),  # 肾功能（eGFR / CKD 分期）
    "glucose": _("Glucose status"),  # 血糖状态
    "lipids": _("Lipids (LDL-C category)"),  # 血脂（LDL-C 分层）
    "china-par": _("10-year cardiovascular risk (China-PAR)"),  # 心血管病 10 年风险（China-PAR）
    "cdrs": _("Diabetes risk score (China)"),  # 糖尿病风险评分（中国）
    "findrisc": _("Diabetes risk score (FINDRISC)"),  # 糖尿病风险评分（FINDRISC）
    "htn-high-risk": _("Hypertension high-risk screening"),  # 高血压高危人群筛查
    "tcm-constitution": _("TCM constitution"),  # 中医体质
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
        Shown(str(LABELS.get(model, model)), items[0], items[1:10])
        for model, items in sorted(by_model.items(), key=lambda kv: _order(kv[0]))
    ]


def _order(model: str) -> int:
    return list(LABELS).index(model) if model in LABELS else len(LABELS)


def reassess_models(
    patient_ids: Iterable[int], models: tuple[str, ...], *, now: datetime | None = None
) -> int:
    """``models`` run again for these patients on what they have now (latest results, the
    health record, their age); stores what changed and returns how many. Call inside a
    transaction."""
    from careloop.rules.engine import facts_for

    ids = sorted({pk for pk in patient_ids if pk > 0})
    if not ids:
        return 0
    now = now or timezone.now()
    codes = {code for model in models for code in MODELS[model][0]}
    facts, profiles = facts_for([], ids, now=now, extra_codes=codes)
    new = reassess(
        {pk: set(codes) for pk in profiles},
        readings={pk: dict(f.readings) for pk, f in facts.items()},
        profiles={pk: (p.sex, p.birth_date) for pk, p in profiles.items()},
        now=now,
        only=models,
    )
    store(new)
    return len(new)


def reassess_records(patient_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """The models that read the health record, run again for patients whose record changed
    (smoking, exercise, diet, medicines, diagnoses, family history); stores what changed and
    returns how many. Call inside the transaction that changed the record."""
    return reassess_models(patient_ids, RECORD_MODELS, now=now)


# Age is one of their inputs, or (BP grade, BMI and waist classes: adults only) decides
# whether they apply: re-run on birthdays.
AGE_MODELS = ("egfr", "china-par", "cdrs", "findrisc")
ADULT_MODELS = (
    "bp-grade",
    "bmi",
    "waist",
    "htn-high-risk",
)  # adults' classes: only the 18th birthday changes them
REGION_MODELS = ("china-par",)  # the organisation's region and urban setting are inputs
BATCH_SIZE = 1_000


def birthdays_on(day: date) -> list[tuple[int, int]]:
    """(month, day) of the birth dates whose age goes up on ``day``: 29 February counts
    from 1 March in a year without it."""
    pairs = [(day.month, day.day)]
    if (day.month, day.day) == (3, 1) and not calendar.isleap(day.year):
        pairs.append((2, 29))
    return pairs


def reassess_birthdays(*, now: datetime | None = None, days: int = 2) -> int:
    """Age is an input of eGFR, China-PAR, CDRS and FINDRISC, the BP grade, BMI and waist
    classes are adults' (given from the 18th birthday), and the hypertension high-risk
    screening is for 35 and over and counts 55 and over as a factor: re-run them for the living
    patients whose age went up in the last ``days`` days (the daily job looks back two, so
    a missed run is caught up; a repeat stores nothing). Returns how many were stored."""
    from careloop.patients.models import Patient

    now = now or timezone.now()
    today = timezone.localtime(now).date()
    born, came_of_age, screened = Q(), Q(), Q()
    for back in range(days):
        birthday = today - timedelta(days=back)
        for month, day in birthdays_on(birthday):
            born |= Q(birth_date__month=month, birth_date__day=day)
            came_of_age |= Q(
                birth_date__year=birthday.year - ADULT_FROM,
                birth_date__month=month,
                birth_date__day=day,
            )
            for age in (SCREENED_FROM, OLDER_AGE):
                screened |= Q(
                    birth_date__year=birthday.year - age,
                    birth_date__month=month,
                    birth_date__day=day,
                )
    stored = _reassess_in_batches(Patient.objects.filter(born), AGE_MODELS, now)
    stored += _reassess_in_batches(Patient.objects.filter(came_of_age), ADULT_MODELS, now)
    # The hypertension high-risk screening: from 35, and 55 and over is a factor (§1.1).
    return stored + _reassess_in_batches(Patient.objects.filter(screened), ("htn-high-risk",), now)


def reassess_organisation(organisation_id: int, *, now: datetime | None = None) -> int:
    """China-PAR run again for an organisation's patients after its region or urban setting
    changed (they are inputs of the model). Returns how many were stored."""
    from careloop.patients.models import Patient

    patients = Patient.objects.filter(organisation_id=organisation_id)
    return _reassess_in_batches(patients, REGION_MODELS, now or timezone.now())


def _reassess_in_batches(patients: QuerySet[Any], models: tuple[str, ...], now: datetime) -> int:
    """``reassess_models`` for the living ``patients``, a batch per transaction."""
    from django.db import transaction

    ids = list(
        patients.filter(deceased_on__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    stored = 0
    for start in range(0, len(ids), BATCH_SIZE):
        with transaction.atomic():
            stored += reassess_models(ids[start : start + BATCH_SIZE], models, now=now)
    return stored

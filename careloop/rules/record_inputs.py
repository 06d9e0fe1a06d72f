"""What the health record says for the risk models that read it (China-PAR, CDRS,
FINDRISC), loaded for many patients with one query per table.

Definitions (documented in docs/rules.md, "Risk assessments on the record"):
- smoking: the lifestyle entry (吸烟: current / former / never; unknown when not filled in);
- on antihypertensive treatment: a current medicine of the kind "blood pressure lowering";
  ever taken (FINDRISC): any such medicine, current or stopped;
- diabetes: a diagnosis (any status: in remission is still known diabetes) or past history
  coded E10–E14, or a current medicine of the kind "glucose lowering";
- existing cardiovascular disease (China-PAR does not score it: 极高危): I20–I25 (ischaemic
  heart disease), I60–I64 and I69 (stroke and its sequelae), G45 (TIA), I70 and I73.9
  (atherosclerosis, peripheral arterial disease), Z95.1 and Z95.5 (bypass, stent), any status;
- family history of ASCVD: father, mother, brother or sister with myocardial infarction
  (I21, I22) or stroke (I60–I64), the paper's definition;
- family history of diabetes (E10–E14): parent, sibling or child = first degree;
  grandparent or another relative (aunt, uncle, cousin) = second degree. An entry without
  an ICD-10 code counts by its name (糖尿病; 心梗/心肌梗死; 脑卒中/中风/脑梗/脑出血);
- physical activity ≥ 30 minutes daily: 7 sessions a week of at least 30 minutes;
- high glucose ever found: a fasting glucose or HbA1c result flagged high, or R73;
- hypertension (the high-risk screening does not class patients): a diagnosis or past history
  coded I10–I15, or a current blood-pressure-lowering medicine;
- family history of hypertension (I10–I15, or an entry naming 高血压): a first- or
  second-degree relative as above;
- high-salt diet: the lifestyle's salt intake 重; spirits a day: the lifestyle's 两 × 50 mL
  (0 for someone who never drinks);
- region and urban: the patient's organisation's settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DIABETES = ("E10", "E11", "E12", "E13", "E14")
ASCVD: tuple[str, ...] = (
    "I20",
    "I21",
    "I22",
    "I23",
    "I24",
    "I25",
    "I60",
    "I61",
    "I62",
    "I63",
    "I64",
    "I69",
)
ASCVD += ("G45", "I70", "I73.9", "Z95.1", "Z95.5")
MI_OR_STROKE = ("I21", "I22", "I60", "I61", "I62", "I63", "I64")
HYPERTENSION = ("I10", "I11", "I12", "I13", "I14", "I15")
ML_PER_LIANG = 50
PARENTS_AND_SIBLINGS = ("father", "mother", "sibling")
FIRST_DEGREE = (*PARENTS_AND_SIBLINGS, "child")
SECOND_DEGREE = ("grandparent", "other")
# Family history entries without a code, by their name: the code they stand for.
NAMED: tuple[tuple[str, str], ...] = (
    ("糖尿病", "E11"),
    ("心肌梗死", "I21"),
    ("心梗", "I21"),
    ("脑卒中", "I64"),
)
NAMED += (("中风", "I64"), ("脑梗", "I63"), ("脑出血", "I61"), ("高血压", "I10"))
GLUCOSE_CODES = ("14771-0", "1558-6", "4548-4", "17856-6", "59261-8")  # flagged high: any unit
DAILY_SESSIONS, DAILY_MINUTES = 7, 30


def has_prefix(codes: Iterable[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.upper().startswith(prefixes) for code in codes)


@dataclass(frozen=True)
class Record:
    smoking: str | None = None  # current / former / never; None: not recorded
    exercise_times_per_week: int | None = None
    exercise_minutes: int | None = None
    vegetables_fruit_daily: bool | None = None
    salt_intake: str | None = None  # light / moderate / heavy; None: not recorded
    drinking: str | None = None  # never / occasional / often / daily
    alcohol_liang_per_day: float | None = None
    antihypertensive_now: bool = False
    antihypertensive_ever: bool = False
    glucose_lowering_now: bool = False
    diagnoses: frozenset[str] = frozenset()
    family: frozenset[tuple[str, str]] = frozenset()  # (relation, ICD-10)
    region_north: bool | None = None
    urban: bool | None = None
    high_glucose_ever: bool = False

    @property
    def diabetes(self) -> bool:
        return has_prefix(self.diagnoses, DIABETES) or self.glucose_lowering_now

    @property
    def existing_ascvd(self) -> bool:
        return has_prefix(self.diagnoses, ASCVD)

    @property
    def family_history_ascvd(self) -> bool:
        return any(
            relation in PARENTS_AND_SIBLINGS and has_prefix([code], MI_OR_STROKE)
            for relation, code in self.family
        )

    @property
    def hypertension(self) -> bool:
        return has_prefix(self.diagnoses, HYPERTENSION) or self.antihypertensive_now

    @property
    def family_hypertension(self) -> bool:
        return any(
            relation in (*FIRST_DEGREE, *SECOND_DEGREE) and has_prefix([code], HYPERTENSION)
            for relation, code in self.family
        )

    @property
    def spirits_ml_per_day(self) -> float | None:
        if self.alcohol_liang_per_day is not None:
            return float(self.alcohol_liang_per_day) * ML_PER_LIANG
        return 0.0 if self.drinking == "never" else None

    @property
    def family_diabetes(self) -> str:
        """FINDRISC's answer: first_degree, second_degree or none."""
        relations = {r for r, code in self.family if has_prefix([code], DIABETES)}
        if relations & set(FIRST_DEGREE):
            return "first_degree"
        return "second_degree" if relations & set(SECOND_DEGREE) else "none"

    @property
    def active_30min_daily(self) -> bool | None:
        if self.exercise_times_per_week is None or self.exercise_minutes is None:
            return None
        return (
            self.exercise_times_per_week >= DAILY_SESSIONS
            and self.exercise_minutes >= DAILY_MINUTES
        )


def load_records(patient_ids: list[int]) -> dict[int, Record]:
    """Each patient's ``Record``: one plain query per table, for all of them (through the
    ORM, building the seven queries and converting their rows cost more than running them:
    this runs for every batch of blood pressures and lipid results)."""
    from django.db import connection
    from django.utils import timezone

    from careloop.accounts.models import Organisation
    from careloop.clinical.models import Condition, Observation
    from careloop.patients.models import FamilyHistory, Lifestyle, Medication, PastHistory, Patient
    from careloop.sql_lists import in_sql

    if not patient_ids:
        return {}
    models = (Organisation, Condition, Observation, FamilyHistory, Lifestyle, Medication)
    name = {
        model: connection.ops.quote_name(model._meta.db_table)
        for model in (*models, PastHistory, Patient)
    }
    members, ids = in_sql("x.patient_id", patient_ids)

    def rows(table: str, columns: str, more: str = "", params: tuple[Any, ...] = ()) -> Any:
        cursor.execute(
            f"SELECT x.patient_id, {columns} FROM {table} x WHERE {members}{more}",  # noqa: S608
            [*ids, *params],
        )
        return cursor.fetchall()

    def flag(value: Any) -> bool | None:  # SQLite gives 0/1
        return None if value is None else bool(value)

    values: dict[int, dict[str, Any]] = {}
    today = timezone.localdate().isoformat()
    with connection.cursor() as cursor:
        patients, _ = in_sql("p.id", patient_ids)
        cursor.execute(
            f"SELECT p.id, o.region_north, o.urban FROM {name[Patient]} p "  # noqa: S608
            f"JOIN {name[Organisation]} o ON o.id = p.organisation_id WHERE {patients}",
            ids,
        )
        for pk, north, urban in cursor.fetchall():
            values[pk] = {
                "region_north": flag(north),
                "urban": flag(urban),
                "diagnoses": set(),
                "family": set(),
            }
        columns = (
            "x.smoking, x.exercise_times_per_week, x.exercise_minutes, x.vegetables_fruit_daily, "
            "x.salt_intake, x.drinking, x.alcohol_liang_per_day"
        )
        for pk, smoking, times, minutes, vegetables, salt, drinking, liang in rows(
            name[Lifestyle], columns
        ):
            values[pk].update(
                smoking=smoking or None,
                exercise_times_per_week=times,
                exercise_minutes=minutes,
                vegetables_fruit_daily=flag(vegetables),
                salt_intake=salt or None,
                drinking=drinking or None,
                alcohol_liang_per_day=None if liang is None else float(liang),
            )
        kinds = (
            Medication.Category.ANTIHYPERTENSIVE.value,
            Medication.Category.GLUCOSE_LOWERING.value,
        )
        medicines = rows(
            name[Medication], "x.category, x.stopped_on", " AND x.category IN (%s, %s)", kinds
        )
        for pk, category, stopped in medicines:
            current = stopped is None or str(stopped) >= today  # a date, or its ISO text
            if category == Medication.Category.GLUCOSE_LOWERING:
                values[pk]["glucose_lowering_now"] = (
                    values[pk].get("glucose_lowering_now") or current
                )
                continue
            values[pk]["antihypertensive_ever"] = True
            if current:
                values[pk]["antihypertensive_now"] = True
        for table in (name[Condition], name[PastHistory]):
            for pk, code in rows(table, "x.icd10_code"):
                values[pk]["diagnoses"].add(code)
        for pk, relation, code, condition in rows(
            name[FamilyHistory], "x.relation, x.icd10_code, x.condition"
        ):
            # An entry without a code counts for each condition it names (糖尿病、高血压).
            named = [c for word, c in NAMED if word in (condition or "")] if not code else []
            values[pk]["family"].update((relation, c) for c in (named or [code]))
        glucose = ", ".join(["%s"] * len(GLUCOSE_CODES))
        high = rows(
            name[Observation],
            "1",
            f" AND x.code IN ({glucose}) AND x.interpretation IN (%s, %s)",
            (*GLUCOSE_CODES, "H", "HH"),
        )
        for pk, _one in high:
            values[pk]["high_glucose_ever"] = True
    return {
        pk: Record(
            **{
                **v,
                "diagnoses": frozenset(c for c in v["diagnoses"] if c),
                "family": frozenset((r, c) for r, c in v["family"] if c),
            }
        )
        for pk, v in values.items()
    }

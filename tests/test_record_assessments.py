"""China-PAR, the Chinese diabetes risk score and FINDRISC on the record: assessed from the
results and the health record as they are entered, again when either changes, not while an
input is unknown; the paper's worked China-PAR example and hand-scored CDRS/FINDRISC."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.clinical.assessment import ResultInput
from careloop.clinical.services import do_record_results
from careloop.patients.forms import LifestyleForm
from careloop.patients.models import Lifestyle
from careloop.patients.record import RECORD_KINDS, do_delete_item, do_save_item
from careloop.patients.services import do_save_lifestyle
from careloop.rules.models import RiskAssessment
from tests.test_patients_web import logged_in

pytestmark = pytest.mark.django_db

RESULTS = {  # LOINC: (name, unit)
    "8480-6": ("收缩压", "mmHg"),
    "8462-4": ("舒张压", "mmHg"),
    "2093-3": ("总胆固醇", "mmol/L"),
    "2085-9": ("高密度脂蛋白胆固醇", "mmol/L"),
    "8280-0": ("腰围", "cm"),
    "8302-2": ("身高", "cm"),
    "29463-7": ("体重", "kg"),
}
MG_DL = 0.0259  # mmol/L per mg/dL, the paper's conversion


def _aged(years: int) -> date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - timedelta(days=1)


def _results(patient: Any, **values: float) -> None:
    at = timezone.now() - timedelta(hours=1)
    items = []
    for code, value in values.items():
        loinc = code.replace("_", "-")
        name, unit = RESULTS[loinc]
        items.append(ResultInput(name, at, loinc=loinc, value=value, unit=unit))
    do_record_results(patient, None, items, source="manual", source_label="test")


def _lifestyle(actor: Any, patient: Any, **data: Any) -> None:
    instance = Lifestyle.objects.filter(patient=patient).first() or Lifestyle(patient=patient)
    form = LifestyleForm(
        data={k: "" if v is None else v for k, v in data.items()}, instance=instance
    )
    assert form.is_valid(), form.errors
    do_save_lifestyle(actor, patient, form)


def _entry(actor: Any, patient: Any, slug: str, **data: Any) -> Any:
    form = RECORD_KINDS[slug].form(data=data)
    assert form.is_valid(), form.errors
    return do_save_item(actor, patient, RECORD_KINDS[slug], form)


def _latest(patient: Any, model: str) -> RiskAssessment | None:
    return RiskAssessment.objects.filter(patient=patient, model=model).first()


def test_china_par_from_results_and_record_the_papers_worked_example(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    cardiology.region_north, cardiology.urban = True, True
    cardiology.save()
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(60))
    _results(man, **{"8480_6": 130, "2093_3": 210 * MG_DL, "2085_9": 55 * MG_DL, "8280_0": 80})
    assert _latest(man, "china-par") is None  # smoking not recorded yet

    _lifestyle(carol, man, smoking="never")
    first = _latest(man, "china-par")
    assert first is not None and first.inputs["diabetes"] is False
    assert first.inputs["current_smoker"] is False and first.inputs["region_north"] is True

    _entry(carol, man, "diagnosis", icd10_code="E11", clinical_status="active")
    example = _latest(man, "china-par")
    assert example is not None and example.pk != first.pk
    assert example.result["risk10_percent"] == 11.0  # the paper: 11.0%
    assert example.category == "高危"
    assert "按未服药评估" in example.result["warnings"][-1]

    medicine = _entry(carol, man, "medication", name="氨氯地平", category="antihypertensive")
    treated = _latest(man, "china-par")
    assert treated is not None and treated.inputs["on_antihypertensive"] is True
    do_delete_item(carol, man, RECORD_KINDS["medication"], medicine)
    assert _latest(man, "china-par").inputs["on_antihypertensive"] is False  # type: ignore[union-attr]

    page = logged_in(carol).get(f"/patients/{man.pk}/").content.decode()
    assert "心血管病 10 年风险（China-PAR）" in page


def test_china_par_waits_for_the_organisations_region(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(55))
    _lifestyle(carol, man, smoking="current")
    _results(man, **{"8480_6": 140, "2093_3": 5.2, "2085_9": 1.1, "8280_0": 90})
    assert _latest(man, "china-par") is None


def test_china_par_does_not_score_existing_ascvd(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    cardiology.region_north, cardiology.urban = False, True
    cardiology.save()
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(58))
    _lifestyle(carol, man, smoking="current")
    _results(man, **{"8480_6": 150, "2093_3": 6.0, "2085_9": 1.0, "8280_0": 95})
    _entry(carol, man, "history", kind="disease", name="心肌梗死", icd10_code="I21.9")
    latest = _latest(man, "china-par")
    assert latest is not None and latest.category == "极高危"
    assert latest.result["risk10_percent"] is None


def test_diabetes_risk_scores_from_results_lifestyle_and_family(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    woman = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(50))
    _results(woman, **{"8480_6": 135, "8302_2": 160, "29463_7": 64, "8280_0": 85})
    cdrs = _latest(woman, "cdrs")
    assert cdrs is not None  # age, SBP, BMI and waist are enough; no family history known
    assert cdrs.result["total"] == 13 + 6 + 3 + 8 + 0 + 0
    assert cdrs.category == "高风险"  # 30 ≥ 25
    assert _latest(woman, "findrisc") is None  # exercise and diet not recorded

    _entry(carol, woman, "family", relation="mother", condition="糖尿病", icd10_code="E11")
    assert _latest(woman, "cdrs").result["total"] == 36  # type: ignore[union-attr]

    _lifestyle(
        carol, woman, exercise_times_per_week=3, exercise_minutes=40, vegetables_fruit_daily=False
    )
    findrisc = _latest(woman, "findrisc")
    assert findrisc is not None
    # age 45–54: 2, BMI 25.0: 1, waist 80–88: 3, not active daily: 2, no vegetables daily: 1,
    # no antihypertensives, no high glucose, mother with diabetes: 5
    assert findrisc.result["total"] == 14
    assert findrisc.category == "moderate"
    assert findrisc.inputs["family_history"] == "first_degree"
    page = logged_in(carol).get(f"/patients/{woman.pk}/").content.decode()
    assert "中度风险" in page  # shown in words, not its code "moderate"
    assert ">moderate<" not in page

    diagnosis = _entry(carol, woman, "diagnosis", icd10_code="E11.9", clinical_status="active")
    # Known diabetes: both scores are closed as 不适用 (their last result no longer current).
    for model in ("cdrs", "findrisc"):
        closed = _latest(woman, model)
        assert closed is not None and closed.category == "不适用"
        assert closed.inputs == {"stopped": "known_diabetes"}
        assert "已确诊糖尿病" in closed.explanation
    count = RiskAssessment.objects.filter(patient=woman, model__in=["cdrs", "findrisc"]).count()
    _results(woman, **{"8480_6": 150})
    again = RiskAssessment.objects.filter(patient=woman, model__in=["cdrs", "findrisc"]).count()
    assert again == count  # not scored, and not closed twice
    page = logged_in(carol).get(f"/patients/{woman.pk}/")
    assert "不适用" in page.content.decode()

    do_delete_item(carol, woman, RECORD_KINDS["diagnosis"], diagnosis)  # entered in error
    assert _latest(woman, "cdrs").category == "高风险"  # type: ignore[union-attr]
    assert _latest(woman, "findrisc").category == "moderate"  # type: ignore[union-attr]


def test_known_disease_counts_whatever_its_status_and_however_it_is_recorded(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    # Stroke in remission, nothing else known: China-PAR needs no more to say 极高危.
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(66))
    _entry(carol, man, "diagnosis", icd10_code="I64", clinical_status="remission")
    assert _latest(man, "china-par").category == "极高危"  # type: ignore[union-attr]

    # On metformin without a diabetes code: known diabetes, the diabetes scores don't run.
    woman = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(50))
    _entry(carol, woman, "medication", name="二甲双胍", category="glucose_lowering")
    _results(woman, **{"8480_6": 135, "8302_2": 160, "29463_7": 64, "8280_0": 85})
    assert _latest(woman, "cdrs") is None

    # A father's diabetes written without a code counts by its name; a woman's China-PAR
    # needs no urban setting (her model has no urban term).
    cardiology.region_north = True
    cardiology.save()
    other = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(50))
    _entry(carol, other, "family", relation="father", condition="2型糖尿病", icd10_code="")
    _lifestyle(carol, other, smoking="never")
    _results(
        other,
        **{"8480_6": 135, "8302_2": 160, "29463_7": 64, "8280_0": 85},
        **{"2093_3": 5.0, "2085_9": 1.3},
    )
    assert _latest(other, "cdrs").inputs["family_history_diabetes"] is True  # type: ignore[union-attr]
    assert _latest(other, "china-par").inputs["urban"] is None  # type: ignore[union-attr]


def test_a_score_past_its_age_range_is_closed_not_left_standing(
    cardiology: Any, patient_factory: Any
) -> None:
    from careloop.rules.assessments import reassess_records

    today = timezone.localdate()
    born = today.replace(year=today.year - 75) + timedelta(days=2)  # 75 in two days
    woman = patient_factory(organisation=cardiology, sex="female", birth_date=born)
    _results(woman, **{"8480_6": 135, "8302_2": 160, "29463_7": 64, "8280_0": 85})
    assert _latest(woman, "cdrs").inputs["age"] == 74  # type: ignore[union-attr]
    reassess_records([woman.pk], now=timezone.now() + timedelta(days=3))
    closed = _latest(woman, "cdrs")
    assert closed is not None and closed.category == "不适用"
    assert closed.inputs == {"stopped": "age"}
    assert _latest(woman, "findrisc") is None  # never scored (exercise unknown): nothing to close


def test_the_record_read_for_the_models_in_one_batch(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    """What load_records makes of each table: current and stopped medicines by their dates,
    diagnoses from conditions and past history, family history by code or by name, a high
    glucose ever flagged, the organisation's region; a patient with nothing recorded."""
    from careloop.clinical.models import Condition, Observation
    from careloop.patients.models import FamilyHistory, Medication, PastHistory
    from careloop.rules.record_inputs import Record, load_records

    cardiology.region_north, cardiology.urban = True, False
    cardiology.save()
    full, empty = (patient_factory(organisation=cardiology) for _ in range(2))
    today = timezone.localdate()
    pills = Medication.Category
    Medication.objects.create(
        patient=full, name="氨氯地平", category=pills.ANTIHYPERTENSIVE, stopped_on=today
    )
    Medication.objects.create(
        patient=full,
        name="二甲双胍",
        category=pills.GLUCOSE_LOWERING,
        stopped_on=today - timedelta(days=1),
    )
    Condition.objects.create(patient=full, icd10_code="I10", name="高血压")
    PastHistory.objects.create(patient=full, kind="disease", icd10_code="I25.1", name="冠心病")
    FamilyHistory.objects.create(patient=full, relation="father", condition="心梗")
    FamilyHistory.objects.create(patient=full, relation="other", condition="x", icd10_code="E11")
    _results(full, **{"8480_6": 150})
    Observation.objects.filter(patient=full).update(code="14771-0", interpretation="H")

    records = load_records([full.pk, empty.pk, 10**12])
    got = records[full.pk]
    assert (got.antihypertensive_now, got.antihypertensive_ever) == (True, True)
    assert got.glucose_lowering_now is False  # stopped yesterday
    assert got.diagnoses == {"I10", "I25.1"} and got.existing_ascvd
    assert got.family == {("father", "I21"), ("other", "E11")}
    assert got.family_history_ascvd and got.family_diabetes == "second_degree"
    assert got.high_glucose_ever is True
    assert got.region_north is True and got.urban is False  # not 1 and 0 (SQLite)
    assert records[empty.pk] == Record(region_north=True, urban=False)
    assert set(records) == {full.pk, empty.pk}


def _turning(years: int, in_days: int) -> date:
    """A birth date: ``years`` old in ``in_days`` days (29 February taken as 1 March)."""
    day = timezone.localdate() + timedelta(days=in_days)
    if (day.month, day.day) == (2, 29):
        day += timedelta(days=1)
    return day.replace(year=day.year - years)


def test_a_birthday_re_runs_the_models_that_read_age(cardiology: Any, patient_factory: Any) -> None:
    from careloop.rules.assessments import reassess_birthdays

    woman = patient_factory(organisation=cardiology, sex="female", birth_date=_turning(60, 2))
    later = patient_factory(organisation=cardiology, sex="female", birth_date=_turning(60, 12))
    for person in (woman, later):
        _results(person, **{"8480_6": 135, "8302_2": 160, "29463_7": 64, "8280_0": 85})
    assert _latest(woman, "cdrs").inputs["age"] == 59  # type: ignore[union-attr]

    birthday = timezone.now() + timedelta(days=2)
    assert reassess_birthdays(now=birthday) == 1  # CDRS; the others lack an input
    assert _latest(woman, "cdrs").inputs["age"] == 60  # type: ignore[union-attr]
    assert _latest(later, "cdrs").inputs["age"] == 59  # type: ignore[union-attr]
    assert reassess_birthdays(now=birthday) == 0  # a repeat stores nothing
    # the next day looks back at yesterday's birthdays too (a missed run): nothing new
    assert reassess_birthdays(now=birthday + timedelta(days=1)) == 0


def test_29_february_birthdays_count_from_1_march_in_other_years() -> None:
    from careloop.rules.assessments import birthdays_on

    assert birthdays_on(date(2027, 3, 1)) == [(3, 1), (2, 29)]
    assert birthdays_on(date(2028, 3, 1)) == [(3, 1)]
    assert birthdays_on(date(2028, 2, 29)) == [(2, 29)]


@pytest.mark.django_db(transaction=True)  # the task worker closes its connections
def test_setting_an_organisations_region_reassesses_its_patients(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    """China-PAR waits for the region; set in the administration, it is scored for the
    organisation's patients by the task worker, without a new result."""
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.core.management import call_command
    from django.test import RequestFactory

    from careloop.accounts.models import Organisation

    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(55))
    _lifestyle(carol, man, smoking="current")
    _results(man, **{"8480_6": 140, "2093_3": 5.2, "2085_9": 1.1, "8280_0": 90})
    assert _latest(man, "china-par") is None  # the region is not set

    model_admin = site._registry[Organisation]
    request = RequestFactory().post("/admin/")
    request.user = carol
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    form = model_admin.get_form(request, cardiology)(
        instance=cardiology,
        data={
            "code": cardiology.code,
            "name": cardiology.name,
            "kind": cardiology.kind,
            "parent": cardiology.parent_id or "",
            "is_active": "on",
            "region_north": "true",
            "urban": "true",
        },
    )
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    scored = _latest(man, "china-par")
    assert scored is not None and scored.inputs["region_north"] is True


def test_the_glucose_category_is_shown_in_words(cardiology: Any, patient_factory: Any) -> None:
    from careloop.rules.models import RiskAssessment

    stored = RiskAssessment(model="glucose", category="IFG")
    assert stored.category_label == "空腹血糖受损（IFG）"
    assert RiskAssessment(model="bp-grade", category="1级高血压").category_label == "1级高血压"
    # FINDRISC keeps codes as the glucose model does; the page showed "slightly_elevated".
    words = {"low": "低风险", "slightly_elevated": "轻度升高风险", "very_high": "很高风险"}
    for code, label in words.items():
        assert RiskAssessment(model="findrisc", category=code).category_label == label
    assert RiskAssessment(model="findrisc", category="不适用").category_label == "不适用"


def test_the_bp_grade_reads_the_antihypertensive_medicines_on_the_record(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    """A treated patient below 140/90 is still hypertensive (REFERENCE §4.1): the grade says
    so once the record has an antihypertensive taken now, and no longer says "untreated"."""
    woman = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(62))
    _results(woman, **{"8480_6": 132, "8462_4": 84})
    untreated = _latest(woman, "bp-grade")
    assert untreated is not None and untreated.inputs["on_antihypertensive"] is False
    assert untreated.result["hypertension"] is False
    assert "档案未记录在服降压药，按未服药评估。" in untreated.result["warnings"]
    pill = _entry(carol, woman, "medication", name="苯磺酸氨氯地平片", category="antihypertensive")
    treated = _latest(woman, "bp-grade")
    assert treated is not None and treated.pk != untreated.pk
    assert treated.inputs["on_antihypertensive"] is True and treated.result["hypertension"] is True
    assert not any("按未服药评估" in w for w in treated.result["warnings"])
    assert "仍应诊断为高血压" in treated.result["explanation"]
    do_delete_item(carol, woman, RECORD_KINDS["medication"], pill)
    assert _latest(woman, "bp-grade").inputs["on_antihypertensive"] is False  # type: ignore[union-attr]


def test_direct_ldl_and_creatinine_in_mass_units_are_assessed(
    cardiology: Any, patient_factory: Any
) -> None:
    """LDL-C measured directly (18262-6) and creatinine sent in mg/dL (2160-0) are the
    same items as their other codes: the lipid and eGFR assessments read them."""
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(50))
    at = timezone.now() - timedelta(hours=1)
    do_record_results(
        man,
        None,
        [
            ResultInput(
                "低密度脂蛋白胆固醇（直接）", at, loinc="18262-6", value=4.5, unit="mmol/L"
            ),
            ResultInput("肌酐", at, loinc="2160-0", value=1.0, unit="mg/dL"),
        ],
        source="manual",
        source_label="test",
    )
    lipids = _latest(man, "lipids")
    assert lipids is not None and lipids.inputs["ldl_c"] == 4.5
    egfr = _latest(man, "egfr")
    assert egfr is not None and egfr.inputs["creatinine_umol_L"] == 88.4
    assert egfr.result["egfr_ckd_epi_2021"] == 92  # a 50-year-old man at 88.4 µmol/L


def test_a_waist_result_classes_central_obesity_on_the_record(
    cardiology: Any, patient_factory: Any
) -> None:
    woman = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(50))
    _results(woman, **{"8280_0": 83})
    stored = _latest(woman, "waist")
    assert stored is not None and stored.category == "中心型肥胖前期"
    _results(woman, **{"8280_0": 86})
    assert (latest := _latest(woman, "waist")) is not None and latest.category == "中心型肥胖"


def test_the_adult_bp_grades_are_not_given_to_a_child(
    cardiology: Any, patient_factory: Any
) -> None:
    # The grades of 中国高血压防治指南 (REFERENCE §4.1) are adults': a 12-year-old's 125/80
    # is not 正常高值 by them (the catalogue's BP ranges, too, start at 18).
    child = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(12))
    _results(child, **{"8480_6": 125, "8462_4": 80})
    assert _latest(child, "bp-grade") is None
    adult = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(18))
    _results(adult, **{"8480_6": 125, "8462_4": 80})
    stored = _latest(adult, "bp-grade")
    assert stored is not None and stored.category == "正常高值"


def test_the_adult_bmi_classes_are_not_given_to_a_child(
    cardiology: Any, patient_factory: Any
) -> None:
    # WS/T 428-2013 (REFERENCE §4.1) classes adults' BMI: a 12-year-old's is not 正常 or
    # 超重 by it (as for the waist, whose cut-offs are adults' too).
    child = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(12))
    _results(child, **{"8302_2": 150, "29463_7": 55})
    assert _latest(child, "bmi") is None
    adult = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(18))
    _results(adult, **{"8302_2": 150, "29463_7": 55})
    stored = _latest(adult, "bmi")
    assert stored is not None and stored.category == "超重"  # 55 ÷ 1.5² = 24.4


def test_a_high_hba1c_reported_in_ifcc_units_is_a_high_glucose_ever(
    cardiology: Any, patient_factory: Any
) -> None:
    """An HbA1c the laboratory reports in mmol/mol (IFCC, 59261-8) and flags high is a high
    glucose on the record, as one in % is (FINDRISC's "history of high blood glucose")."""
    from careloop.clinical.models import Observation
    from careloop.rules.record_inputs import load_records

    patient = patient_factory(organisation=cardiology)
    _results(patient, **{"8480_6": 150})
    Observation.objects.filter(patient=patient).update(code="59261-8", interpretation="H")
    assert load_records([patient.pk])[patient.pk].high_glucose_ever is True


def test_an_adult_grade_standing_for_a_child_is_closed_by_the_next_reading(
    cardiology: Any, patient_factory: Any
) -> None:
    """A BP grade or BMI class stored for a child before they were adults only (or before
    the birth date was corrected) is closed by the child's next reading, not left standing
    as the current one (rules and advice read it)."""
    from careloop.patients.models import Patient

    child = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(30))
    _results(child, **{"8480_6": 125, "8462_4": 80, "8302_2": 150, "29463_7": 55})
    assert _latest(child, "bp-grade").category == "正常高值"  # type: ignore[union-attr]
    assert _latest(child, "bmi").category == "超重"  # type: ignore[union-attr]
    Patient.objects.filter(pk=child.pk).update(birth_date=_aged(12))
    child.refresh_from_db()
    _results(child, **{"8480_6": 126, "8462_4": 81, "8302_2": 151, "29463_7": 55})
    for model in ("bp-grade", "bmi"):
        closed = _latest(child, model)
        assert closed is not None and closed.category == "不适用", model


def test_the_adult_grades_come_on_the_18th_birthday(cardiology: Any, patient_factory: Any) -> None:
    """Adults only: the BP grade, BMI and waist classes of readings taken at 17 are given on
    the 18th birthday, as the other models that read age are re-run, not only when the next
    reading comes."""
    from careloop.rules.assessments import reassess_birthdays

    teen = patient_factory(organisation=cardiology, sex="male", birth_date=_turning(18, 2))
    _results(teen, **{"8480_6": 150, "8462_4": 95, "8302_2": 170, "29463_7": 80, "8280_0": 95})
    assert all(_latest(teen, m) is None for m in ("bp-grade", "bmi", "waist"))
    reassess_birthdays(now=timezone.now() + timedelta(days=2))
    assert _latest(teen, "bp-grade") is not None
    assert _latest(teen, "bmi").category == "超重"  # type: ignore[union-attr]  # 27.7
    assert _latest(teen, "waist") is not None


def test_the_adult_grades_are_not_rerun_on_later_birthdays(
    cardiology: Any, patient_factory: Any
) -> None:
    """Only the 18th birthday changes them: a 31st does not re-run them (the daily job had
    three more models to run for everyone with a birthday)."""
    from careloop.rules.assessments import reassess_birthdays
    from careloop.rules.models import RiskAssessment

    adult = patient_factory(organisation=cardiology, sex="male", birth_date=_turning(31, 2))
    _results(adult, **{"8480_6": 150, "8462_4": 95})
    RiskAssessment.objects.filter(patient=adult, model="bp-grade").delete()
    reassess_birthdays(now=timezone.now() + timedelta(days=2))
    assert _latest(adult, "bp-grade") is None


def test_hypertension_high_risk_from_results_lifestyle_and_family(
    cardiology: Any, carol: Any, patient_factory: Any
) -> None:
    """REFERENCE §1.1: any of six factors makes someone high-risk; a diagnosed patient is
    managed, not screened (the standing result is closed as 不适用)."""
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(40))
    _results(man, **{"8480_6": 126, "8462_4": 82, "8302_2": 175, "29463_7": 70})
    first = _latest(man, "htn-high-risk")
    assert first is not None and first.category == "非高危人群"
    assert first.result["unknown"] == ["饮食摄盐情况", "饮酒量"]  # no lifestyle recorded

    _entry(carol, man, "family", relation="grandparent", condition="高血压")
    family = _latest(man, "htn-high-risk")
    assert family is not None and family.category == "高危人群"
    assert family.result["factors"] == ["高血压家族史（一、二级亲属）"]

    _lifestyle(carol, man, drinking="daily", alcohol_liang_per_day="2", salt_intake="heavy")
    both = _latest(man, "htn-high-risk")
    assert both is not None
    assert both.result["factors"][1:] == ["长期高盐饮食", "长期过量饮酒（每日白酒约 100 mL）"]

    _entry(carol, man, "diagnosis", icd10_code="I10", clinical_status="active")
    closed = _latest(man, "htn-high-risk")
    assert closed is not None and closed.category == "不适用"
    page = logged_in(carol).get(f"/patients/{man.pk}/").content.decode()
    assert "高血压高危人群筛查" in page


def test_the_hypertension_screening_starts_on_the_35th_birthday(
    cardiology: Any, patient_factory: Any
) -> None:
    from careloop.rules.assessments import reassess_birthdays

    man = patient_factory(organisation=cardiology, sex="male", birth_date=_turning(35, 2))
    _results(man, **{"8480_6": 132, "8462_4": 80})
    assert _latest(man, "htn-high-risk") is None  # 34: not screened
    reassess_birthdays(now=timezone.now() + timedelta(days=2))
    screened = _latest(man, "htn-high-risk")
    assert screened is not None and screened.category == "高危人群"


def test_the_55th_birthday_makes_someone_high_risk_for_hypertension(
    cardiology: Any, patient_factory: Any
) -> None:
    from careloop.rules.assessments import reassess_birthdays

    man = patient_factory(organisation=cardiology, sex="male", birth_date=_turning(55, 2))
    _results(man, **{"8480_6": 120, "8462_4": 76, "8302_2": 172, "29463_7": 62})
    assert _latest(man, "htn-high-risk").category == "非高危人群"  # type: ignore[union-attr]
    reassess_birthdays(now=timezone.now() + timedelta(days=2))
    turned = _latest(man, "htn-high-risk")
    assert turned is not None and turned.category == "高危人群"
    assert turned.result["factors"] == ["年龄 55 岁（≥55 岁）"]


def test_a_family_entry_naming_several_conditions_counts_each(
    cardiology: Any, patient_factory: Any
) -> None:
    """A relative's entry written as several conditions without a code (父亲：糖尿病、高血压, as
    a family history is often noted) counts for each: it was read as its first name alone, so
    the hypertension in it did not make the person high-risk (REFERENCE §1.1)."""
    from careloop.patients.models import FamilyHistory
    from careloop.rules.record_inputs import load_records

    man = patient_factory(organisation=cardiology)
    FamilyHistory.objects.create(patient=man, relation="father", condition="糖尿病、高血压、脑梗")
    got = load_records([man.pk])[man.pk]
    assert got.family == {("father", "E11"), ("father", "I10"), ("father", "I63")}
    assert got.family_hypertension and got.family_history_ascvd
    assert got.family_diabetes == "first_degree"


def test_the_hypertension_screening_is_stored_again_only_when_its_finding_changes(
    cardiology: Any, patient_factory: Any
) -> None:
    """Every blood pressure is an input; a row per reading with the same finding doubled what
    a result writes (the rules' speed target missed on PostgreSQL)."""
    man = patient_factory(organisation=cardiology, sex="male", birth_date=_aged(45))
    _results(man, **{"8480_6": 134, "8462_4": 80})
    _results(man, **{"8480_6": 136, "8462_4": 82})  # high-normal again: the same finding
    rows = RiskAssessment.objects.filter(patient=man, model="htn-high-risk")
    assert rows.count() == 1 and rows.get().category == "高危人群"
    _results(man, **{"8480_6": 118, "8462_4": 76})
    assert rows.count() == 2 and rows.first().category == "非高危人群"  # type: ignore[union-attr]
    assert RiskAssessment.objects.filter(patient=man, model="bp-grade").count() == 3

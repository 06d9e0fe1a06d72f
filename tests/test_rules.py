"""The rule engine on the database: rules saved and versioned, fired by results as they are
stored (form/FHIR/HL7 paths), by the scheduled sweep, and replayed in a dry run."""

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from careloop.audit.models import AuditEvent
from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Observation
from careloop.clinical.services import do_record_results
from careloop.followup.models import Alert
from careloop.patients.models import PatientTag, TagEvent
from careloop.rules.conditions import RuleError
from careloop.rules.engine import compile_rule, dry_run, run_for_results, sweep, sweep_candidates
from careloop.rules.models import Rule, RuleFiring, RuleVersion
from careloop.rules.pack import load_pack, pack_rules
from careloop.rules.services import do_save_rule, do_tag_patient
from tests.factories import PatientFactory
from tests.test_mllp import hospital_org, mllp, msa, process_all, send  # noqa: F401
from tests.test_patients_web import logged_in

TZ = ZoneInfo("Asia/Shanghai")
STORY_NOW = datetime(2026, 11, 24, 2, 0, tzinfo=TZ)  # the fixtures' messages are of 2026-11-23


@pytest.fixture
def story_time(monkeypatch: Any) -> datetime:
    """The clock of the HL7 fixtures (sent 2026-11-23): rules judge how recent a value is."""
    monkeypatch.setattr(timezone, "now", lambda: STORY_NOW)
    return STORY_NOW


SBP, DBP, GLU = "8480-6", "8462-4", "14749-6"
UNITS = {SBP: "mmHg", DBP: "mmHg", GLU: "mmol/L"}
NAMES = {SBP: "收缩压", DBP: "舒张压", GLU: "葡萄糖"}


@pytest.fixture
def patient(hospital: Any, carol: Any) -> Any:
    return PatientFactory(organisation=carol.organisation, responsible_doctor=carol)


@pytest.fixture
def pack(db: None) -> None:
    load_pack()


def store(patient: Any, code: str, value: float, at: datetime) -> Any:
    """A result stored as every interface stores it (grading, critical values, rules)."""
    return do_record_results(
        patient,
        None,
        [ResultInput(NAMES[code], at, loinc=code, value=value, unit=UNITS[code])],
        source="manual",
        source_label="test",
    )


def bare(patient: Any, code: str, value: float, at: datetime, status: str = "final") -> Any:
    """A result row alone, unsaved: not graded, no rules run on it."""
    return Observation(
        patient=patient,
        code=code,
        name=NAMES[code],
        value=value,
        value_normalised=value,
        unit_normalised=UNITS[code],
        effective_at=at,
        status=status,
    )


def rule_alerts(patient: Any) -> list[Alert]:
    return list(Alert.objects.filter(patient=patient, kind=Alert.Kind.RULE).order_by("pk"))


def test_saving_a_rule_checks_it_and_keeps_every_version(db: None) -> None:
    definition = {
        "name": "收缩压过高",
        "trigger": "observation",
        "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 160},
        "actions": [{"type": "tag", "tag": "血压高"}],
    }
    rule, changed = do_save_rule(None, "sbp-160", definition)
    assert changed and rule.version == 1 and not rule.enabled  # off until enabled
    assert do_save_rule(None, "sbp-160", definition) == (rule, False)  # nothing new
    rule, changed = do_save_rule(None, "sbp-160", {"enabled": True})
    assert changed and rule.version == 2
    assert list(RuleVersion.objects.values_list("version", "enabled")) == [(2, True), (1, False)]
    assert AuditEvent.objects.filter(object_type="rule", object_id="sbp-160").count() == 2
    with pytest.raises(RuleError) as caught:
        do_save_rule(None, "sbp-160", {"condition": {"kind": "latest", "code": SBP, "op": ">="}})
    assert caught.value.path == "condition.value"
    assert Rule.objects.get().version == 2  # the bad version was not saved


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            {"trigger": "task_outcome", "condition": {"kind": "outcome", "outcomes": ["lost"]}},
            "condition.outcomes",
            "须为以下结果的列表",
        ),
        ({"condition": {"kind": "symptom", "symptom": "胸痛胸闷"}}, "condition.kind", "只能用于"),
        (
            {
                "condition": {
                    "kind": "answer",
                    "questionnaire": "phq9",
                    "item": "q9",
                    "op": ">=",
                    "value": 1,
                }
            },
            "condition.kind",
            "“问卷作答时”触发",
        ),
        (
            {"actions": [{"type": "notify", "title": "血脂", "to": "nurse"}]},
            "actions[0].to",
            "须为",
        ),
        ({"actions": [{"type": "task", "title": "血脂", "role": "x"}]}, "actions[0].role", "nurse"),
        (
            {"actions": [{"type": "task", "title": "x", "due_hours": 0}]},
            "actions[0].due_hours",
            "720",
        ),
        ({"actions": [{"type": "enrol", "pathway": "血脂"}]}, "actions[0].pathway", "没有代码"),
        ({"actions": [{"type": "enrol"}]}, "actions[0].pathway", "不能为空"),
        (
            {"actions": [{"type": "alert", "severity": "urgent", "title": "x"}]},
            "actions[0].severity",
            "critical",
        ),
        (
            {"condition": {"kind": "latest", "code": "99999-9", "op": ">", "value": 1}},
            "condition.code",
            "目录",
        ),
        ({"trigger": "sweep"}, "condition", "no_reading"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_naming_the_part(
    db: None, change: dict[str, Any], path: str, words: str
) -> None:
    definition = {
        "name": "x",
        "trigger": "observation",
        "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 160},
        "actions": [{"type": "tag", "tag": "x"}],
    } | change
    with pytest.raises(RuleError) as caught:
        do_save_rule(None, "x", definition)
    assert caught.value.path == path and words in caught.value.message
    assert not Rule.objects.exists()


def test_a_high_blood_pressure_alerts_the_doctor_and_says_why(pack: None, patient: Any) -> None:
    now = timezone.now()
    store(patient, SBP, 150, now - timedelta(days=1))
    assert not rule_alerts(patient)
    store(patient, SBP, 182, now)
    [alert] = rule_alerts(patient)
    assert alert.severity == "critical" and alert.assignee == patient.responsible_doctor
    assert "收缩压 182 mmHg" in alert.reason and "≥ 180" in alert.reason
    assert "紧急转诊" in alert.reason and alert.due_at - alert.created_at == timedelta(hours=2)
    firing = RuleFiring.objects.get(alert=alert)
    assert firing.rule.code == "bp-urgent-referral" and firing.version == 1
    assert firing.seen["readings"][SBP][-1][1] == 182  # what the rule saw is kept
    assert {a["type"] for a in firing.actions} == {"alert", "risk_tier"}
    patient.refresh_from_db()
    assert patient.risk_tier == "high"
    tiered = AuditEvent.objects.get(patient_id=patient.pk, actor_label="rule:bp-urgent-referral")
    assert tiered.summary.startswith("风险分层设为 高（规则 bp-urgent-referral")
    store(patient, SBP, 186, now + timedelta(minutes=5))  # within the quiet period
    assert len(rule_alerts(patient)) == 1
    RuleFiring.objects.update(fired_at=now - timedelta(hours=13))  # the quiet period passes
    store(patient, DBP, 112, now + timedelta(minutes=10))
    assert len(rule_alerts(patient)) == 2  # after it, DBP ≥ 110 fires again


def test_three_rising_readings_tag_the_patient_with_history(pack: None, patient: Any) -> None:
    start = timezone.now() - timedelta(days=3)
    for day, value in enumerate([132, 138, 145]):
        store(patient, SBP, value, start + timedelta(days=day))
    assert list(patient.tags.values_list("tag__name", flat=True)) == ["血压持续升高"]
    event = TagEvent.objects.get(patient=patient)
    assert event.action == "added" and event.firing.rule.code == "sbp-rising-3"
    assert do_tag_patient(None, patient, "血压持续升高", add=False)
    assert not PatientTag.objects.filter(patient=patient).exists()
    assert list(TagEvent.objects.filter(patient=patient).values_list("action", flat=True)) == [
        "removed",
        "added",
    ]


@pytest.mark.django_db(transaction=True)
def test_night_hypoglycaemia_over_mllp_alerts_the_family_doctor(
    mllp: Any,  # noqa: F811
    hospital_org: Any,  # noqa: F811
    story_time: datetime,
) -> None:
    """The story: a LIS sends glucose 3.2 mmol/L drawn at 22:15, over real MLLP."""
    from careloop.interop.models import CodeMapping, SourceSystem
    from careloop.patients.models import Patient

    load_pack()
    source = SourceSystem.objects.create(facility="DEMO-LIS", organisation=hospital_org)
    CodeMapping.objects.create(source=source, local_code="GLU", loinc=GLU)
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    patient = Patient.objects.get()
    [alert] = rule_alerts(patient)
    assert alert.title == "夜间低血糖" and alert.severity == "critical"
    assert "22:00–06:00 内葡萄糖 3.2 mmol/L（2026-11-23 22:15）< 4" in alert.reason
    assert RuleFiring.objects.get().seen["readings"][GLU][-1][1] == 3.2


def test_the_sweep_finds_monitored_patients_without_readings(
    pack: None, hospital: Any, django_assert_num_queries: Any
) -> None:
    now = timezone.now()
    quiet, recent, untagged = (PatientFactory(organisation=hospital) for _ in range(3))
    store(quiet, GLU, 6.1, now - timedelta(days=4))
    store(recent, GLU, 6.1, now - timedelta(days=2))
    store(untagged, GLU, 6.1, now - timedelta(days=5))
    for p in (quiet, recent):
        do_tag_patient(None, p, "血糖监测")
    rule = compile_rule(Rule.objects.get(code="glucose-no-reading-3d"))
    with django_assert_num_queries(1):  # one GROUP BY, the tag inside it
        assert sweep_candidates(rule, now) == [quiet.pk]
    assert sweep(now=now) == 1
    [alert] = rule_alerts(quiet)
    assert "3 天无葡萄糖结果" in alert.reason and alert.assignee_id == quiet.health_manager_id
    assert sweep(now=now + timedelta(hours=1)) == 0  # quiet period: 72 h


def test_dry_run_lists_who_would_have_matched_and_writes_nothing(
    pack: None, patient: Any, hospital: Any
) -> None:
    other = PatientFactory(organisation=hospital)
    now = timezone.now()
    Rule.objects.update(enabled=False)  # stored, but no rule fires while storing
    store(patient, SBP, 150, now - timedelta(days=10))
    store(patient, SBP, 181, now - timedelta(days=9))
    store(patient, SBP, 140, now - timedelta(days=1))
    store(other, SBP, 179, now - timedelta(days=2))
    rule = compile_rule(Rule.objects.get(code="bp-urgent-referral"))
    [match] = dry_run(rule, days=30, now=now)
    assert match.patient_id == patient.pk and "181" in match.reasons[0]
    assert match.at == (now - timedelta(days=9)).replace(microsecond=match.at.microsecond)
    assert not dry_run(rule, days=5, now=now)  # the 181 is older than 5 days
    assert not RuleFiring.objects.exists() and not Alert.objects.exists()


def test_rules_of_an_organisation_apply_below_it_only(
    db: None, hospital: Any, cardiology: Any, community: Any
) -> None:
    do_save_rule(
        None,
        "card-only",
        {
            "name": "心内科收缩压",
            "trigger": "observation",
            "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 160},
            "actions": [{"type": "tag", "tag": "心内科关注"}],
            "enabled": True,
            "organisation": cardiology,
        },
    )
    inside, outside = (
        PatientFactory(organisation=cardiology),
        PatientFactory(organisation=community),
    )
    for p in (inside, outside):
        store(p, SBP, 170, timezone.now())
    assert inside.tags.count() == 1 and outside.tags.count() == 0


def test_the_rules_command(db: None, tmp_path: Any) -> None:
    def run(*args: str) -> Any:
        out = StringIO()
        call_command("rules", *args, stdout=out)
        return json.loads(out.getvalue())

    assert [r["code"] for r in run("load-pack")] == [r["code"] for r in pack_rules()]
    assert all(not r["changed"] for r in run("load-pack"))  # again: nothing new
    assert run("disable", "ldl-high") == {"code": "ldl-high", "version": 2, "enabled": False}
    assert run("show", "ldl-high")["versions"][0]["version"] == 2
    path = tmp_path / "rule.json"
    path.write_text(
        json.dumps(
            {
                "code": "t",
                "name": "t",
                "trigger": "observation",
                "condition": {"kind": "age", "op": ">=", "value": 200},
                "actions": [],
            }
        )
    )
    with pytest.raises(CommandError, match=r"condition.value: 须在 0 到 150 之间") as caught:
        call_command("rules", "save", str(path), stdout=StringIO())
    assert caught.value.returncode == 2
    assert run("dry-run", "ldl-high", "--days", "7") == {
        "rule": "ldl-high",
        "days": 7,
        "patients": 0,
        "matches": [],
    }
    assert run("sweep") == {"fired": 0}


def test_risk_is_reassessed_when_an_input_arrives_and_kept_with_history(
    db: None, patient: Any, bob: Any
) -> None:
    from careloop.rules.models import RiskAssessment

    now = timezone.now()
    store(patient, SBP, 150, now - timedelta(days=2))
    assert not RiskAssessment.objects.filter(model="bp-grade").exists()  # needs the diastolic
    store(patient, DBP, 95, now - timedelta(days=2))
    first = RiskAssessment.objects.get(model="bp-grade")
    assert first.category == "1级高血压" and first.inputs["sbp_mmHg"] == 150
    assert "按未服药评估" in first.result["warnings"][-1]
    store(patient, SBP, 182, now)
    latest = RiskAssessment.objects.filter(model="bp-grade").first()
    assert latest.category == "3级高血压"
    assert RiskAssessment.objects.filter(model="bp-grade").count() == 2
    page = logged_in(bob).get(f"/patients/{patient.pk}/")
    shown = {a.latest.model: a for a in page.context["assessments"]}
    grade = shown["bp-grade"]
    assert (grade.latest.category, [e.category for e in grade.earlier]) == (
        "3级高血压",
        ["1级高血压"],
    )
    assert "血压分级" in page.content.decode()


def test_a_rule_can_use_the_stored_risk(db: None, patient: Any) -> None:
    do_save_rule(
        None,
        "grade-3",
        {
            "name": "3级高血压",
            "trigger": "observation",
            "condition": {"kind": "risk", "model": "bp-grade", "category": "3级高血压"},
            "actions": [{"type": "risk_tier", "value": "high"}],
            "enabled": True,
        },
    )
    with pytest.raises(RuleError, match="自动评估的模型"):
        do_save_rule(
            None,
            "par",
            {
                "name": "x",
                "trigger": "observation",
                "condition": {"kind": "risk", "model": "htn-followup", "category": "控制满意"},
                "actions": [{"type": "tag", "tag": "x"}],
            },
        )
    store(patient, DBP, 112, timezone.now())
    patient.refresh_from_db()
    assert patient.risk_tier == ""  # no systolic yet: not graded
    store(patient, SBP, 181, timezone.now())
    patient.refresh_from_db()
    assert patient.risk_tier == "high"
    assert RuleFiring.objects.get().reasons == ["血压分级 评估为3级高血压"]


def test_results_without_enabled_rules_cost_one_query(
    db: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert run_for_results({1: {"2823-3"}}) == 0  # potassium: no model or rule reads it


def heart_failure_rules() -> None:
    do_save_rule(
        None,
        "hf-tag",
        {
            "name": "心力衰竭",
            "trigger": "diagnosis",
            "condition": {"kind": "diagnosis", "prefix": ["I50", "I11.0"]},
            "actions": [{"type": "tag", "tag": "心力衰竭"}],
            "enabled": True,
        },
    )
    do_save_rule(
        None,
        "old-discharged",
        {
            "name": "出院 30 天内的老年患者",
            "trigger": "encounter",
            "condition": {
                "all": [
                    {"kind": "discharged", "days": 30},
                    {"kind": "age", "op": ">=", "value": 65},
                ]
            },
            "actions": [{"type": "risk_tier", "value": "high"}],
            "enabled": True,
        },
    )


@pytest.mark.django_db(transaction=True)
def test_a_discharge_with_heart_failure_over_hl7_fires_diagnosis_and_encounter_rules(
    mllp: Any,  # noqa: F811
    hospital_org: Any,  # noqa: F811
    story_time: datetime,
) -> None:
    from careloop.patients.models import Patient

    heart_failure_rules()
    assert msa(send(mllp, "adt_a03_discharge.hl7")) == "AA"
    process_all()
    patient = Patient.objects.get()
    assert list(patient.tags.values_list("tag__name", flat=True)) == ["心力衰竭"]
    assert patient.risk_tier == "high"  # 78 years old, discharged 2026-11-10
    reasons = {f.rule.code: f.reasons for f in RuleFiring.objects.select_related("rule")}
    assert reasons["hf-tag"] == ["诊断 I50.9（属 I50、I11.0）"]
    assert reasons["old-discharged"][0] == "2026-11-10 15:00 出院，在 30 天内"


def test_a_diagnosis_added_on_the_patient_page_fires_its_rule(
    carol: Any, cardiology: Any, story_time: datetime
) -> None:
    heart_failure_rules()
    patient = PatientFactory(organisation=cardiology)
    response = logged_in(carol).post(
        f"/patients/{patient.pk}/record/diagnosis/add/",
        {
            "icd10_code": "I50.0",
            "name": "",
            "clinical_status": "active",
            "onset_date": "2026-11-20",
            "note": "",
        },
    )
    assert response.status_code == 302
    assert list(patient.tags.values_list("tag__name", flat=True)) == ["心力衰竭"]
    rule = compile_rule(Rule.objects.get(code="hf-tag"))
    [match] = dry_run(rule, days=30)
    assert match.patient_id == patient.pk


def test_an_old_or_cancelled_value_does_not_raise_todays_alert(pack: None, patient: Any) -> None:
    now = timezone.now()
    store(patient, SBP, 186, now - timedelta(days=300))  # last year's exam, imported today
    store(patient, DBP, 112, now - timedelta(days=90))
    store(patient, SBP, 128, now)  # a new normal SBP must not re-raise the old DBP
    assert not rule_alerts(patient)
    do_record_results(
        patient,
        None,
        [ResultInput("收缩压", now, loinc=SBP, value=195, unit="mmHg", status="cancelled")],
        source="manual",
        source_label="test",
    )
    assert not rule_alerts(patient)
    store(patient, SBP, 181, now)
    assert len(rule_alerts(patient)) == 1


def test_rules_leave_a_patient_who_has_died_alone(pack: None, hospital: Any) -> None:
    from datetime import date

    now = timezone.now()
    patient = PatientFactory(organisation=hospital)
    store(patient, GLU, 6.0, now - timedelta(days=5))
    do_tag_patient(None, patient, "血糖监测")
    patient.deceased_on = date.today()
    patient.save()
    assert sweep(now=now) == 0
    store(patient, SBP, 190, now)
    assert not rule_alerts(patient)


def test_an_imported_spreadsheet_is_assessed_once_per_chunk(
    hospital: Any, tmp_path: Any, story_time: datetime
) -> None:
    from io import StringIO

    from careloop.rules.models import RiskAssessment
    from tests.test_import import long_rows, xlsx

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    call_command("import", str(path), "--source", "体检中心", stdout=StringIO(), stderr=StringIO())
    assessed = {a.model: a.category for a in RiskAssessment.objects.all()}
    assert assessed["glucose"] == "IFG"  # fasting glucose 6.4 mmol/L from the sheet


def test_rules_see_each_reading_at_its_exact_moment_oldest_first(patient: Any) -> None:
    """Times come back from the database as epoch seconds; they must stay exact to the
    microsecond (SQLite's strftime('%s') alone would round a .999786 fraction up)."""
    from careloop.rules.engine import load_facts

    now = timezone.now()
    moments = [
        (now - timedelta(days=2)).replace(microsecond=999_786),
        (now - timedelta(days=1)).replace(microsecond=0),
        (now - timedelta(hours=1)).replace(microsecond=1),
    ]
    for value, at in zip((150, 151, 152), reversed(moments), strict=True):
        store(patient, SBP, value, at)  # stored newest first
    store(patient, GLU, 5.5, moments[1])
    facts, _ = load_facts([patient.pk], [SBP, GLU], now=now, history_days=30)
    sbp = facts[patient.pk].readings[SBP]
    assert [r.at for r in sbp] == moments
    assert [r.value for r in sbp] == [152, 151, 150]
    assert all(r.at.utcoffset() == timedelta(0) and r.code == SBP for r in sbp)
    assert [(r.at, r.value, r.unit) for r in facts[patient.pk].readings[GLU]] == [
        (moments[1], 5.5, "mmol/L")
    ]


def test_a_mixed_batch_finds_what_each_patient_alone_finds(pack: None, hospital: Any) -> None:
    """Each patient's readings are loaded of the codes its own new results concern (a
    glucometer reading needs no blood pressures): a batch mixing kinds of results must find
    the same firings and assessments as each patient evaluated alone."""
    from careloop.rules.engine import _codes_needed, evaluate_results, rules_for

    now = timezone.now()
    pressure, glucose = PatientFactory(organisation=hospital), PatientFactory(organisation=hospital)
    for days, sbp, dbp in ((3, 150, 92), (2, 165, 99)):
        store(pressure, SBP, sbp, now - timedelta(days=days))
        store(pressure, DBP, dbp, now - timedelta(days=days))
    for code, value in ((SBP, 184), (DBP, 104)):  # stored, not yet evaluated
        bare(pressure, code, value, now - timedelta(days=1)).save()
    store(pressure, GLU, 3.1, now - timedelta(hours=30))  # low, but not new in this batch
    store(glucose, SBP, 190, now - timedelta(hours=2))  # high, but not new in this batch
    store(glucose, GLU, 3.2, now.replace(hour=19) - timedelta(days=1))
    new = {pressure.pk: {SBP, DBP}, glucose.pk: {GLU}}

    def found(new_codes: dict[int, set[str]]) -> tuple[set[Any], set[Any]]:
        result = evaluate_results(new_codes, now=now)
        matches = {(m.rule.code, m.patient_id, tuple(m.reasons)) for m in result.matches}
        assessed = {(a.patient_id, a.model, a.category) for a in result.assessments}
        return matches, assessed

    together = found(new)
    alone = [found({pk: codes}) for pk, codes in new.items()]
    assert together == (alone[0][0] | alone[1][0], alone[0][1] | alone[1][1])
    assert {(code, pk) for code, pk, _ in together[0]} >= {
        ("bp-urgent-referral", pressure.pk),
        ("sbp-rising-3", pressure.pk),
    }
    assert ("bp-urgent-referral", glucose.pk) not in {(c, pk) for c, pk, _ in together[0]}
    assert (pressure.pk, "bp-grade", "3级高血压") in together[1]  # 184/104
    rules = rules_for("observation")
    assert SBP not in _codes_needed(frozenset({GLU}), rules)
    assert {SBP, DBP, "14647-2", "14646-4"} <= _codes_needed(frozenset({SBP, DBP}), rules)


def test_readings_are_read_in_a_few_queries_whatever_the_mix_of_codes() -> None:
    """Patients needing the same codes share a query; past a few distinct sets (lab panels
    of every shape), one query reads the union for all of them."""
    from careloop.rules.engine import READING_QUERIES, _by_codes

    a, b = frozenset({SBP, DBP}), frozenset({GLU})
    assert _by_codes([1, 2, 3], [SBP, DBP, GLU], {1: a, 2: b, 3: a}) == {a: [1, 3], b: [2]}
    assert _by_codes([1, 2], [SBP, GLU], None) == {frozenset({SBP, GLU}): [1, 2]}
    many = {pk: frozenset({f"code-{pk}"}) for pk in range(READING_QUERIES + 1)}
    assert _by_codes(list(many), [], many) == {frozenset().union(*many.values()): list(many)}


def test_a_long_list_of_patients_reads_the_same_readings_as_short_ones(hospital: Any) -> None:
    """Past SHORT patients the readings query takes the list as one value (on PostgreSQL each
    patient through the index by a lateral join): the same rows, in the same order, as the
    plain query of a short list; cancelled and older results left out."""
    from careloop.rules.engine import _readings
    from careloop.sql_lists import SHORT

    now = timezone.now()
    patients = [PatientFactory(organisation=hospital) for _ in range(SHORT + 6)]
    rows = []
    for n, patient in enumerate(patients):
        for days, code, value in ((5, SBP, 120 + n), (2, SBP, 130 + n), (3, GLU, 5.0 + n / 100)):
            rows.append((patient, code, value, now - timedelta(days=days), "final"))
        rows.append((patient, SBP, 200, now - timedelta(days=1), Observation.Status.CANCELLED))
        rows.append((patient, SBP, 90, now - timedelta(days=40), "final"))  # before `since`
    Observation.objects.bulk_create(bare(*row) for row in rows)
    ids = [p.pk for p in reversed(patients)] + [patients[0].pk]  # a repeat is read once
    since = now - timedelta(days=30)
    with CaptureQueriesContext(connection) as queries:
        together = _readings(ids, [GLU, SBP], since, None)
    long_list = "CROSS JOIN LATERAL" if connection.vendor == "postgresql" else "json_each"
    assert len(queries) == 1 and long_list in queries[0]["sql"]
    apart = {}
    ids = ids[:-1]
    for start in range(0, len(ids), SHORT):
        apart.update(_readings(ids[start : start + SHORT], [GLU, SBP], since, None))
    assert together == apart
    assert list(together) == sorted(set(ids))
    until = _readings(ids, [SBP], since, now - timedelta(days=3))  # up to a moment
    assert [r.value for r in until[patients[0].pk][SBP]] == [120]
    assert set(until) == set(ids) and all(set(r) == {SBP} for r in until.values())
    first = together[patients[0].pk]
    assert [(r.value, r.code) for r in first[SBP]] == [(120, SBP), (130, SBP)]
    assert [r.at for r in first[SBP]] == [now - timedelta(days=5), now - timedelta(days=2)]
    assert [r.value for r in first[GLU]] == [5.0]


def test_the_pack_tags_hypertension_and_a_borderline_glucose(
    pack: None, carol: Any, cardiology: Any
) -> None:
    """DOMAIN F5's example tags 高血压 and 血糖临界 were set by no shipped rule."""
    patient = PatientFactory(organisation=cardiology)
    # (新确诊, which the first hypertension diagnosis also sets, has a test of its own.)
    tags = lambda: sorted(set(patient.tags.values_list("tag__name", flat=True)) - {"新确诊"})  # noqa: E731
    added = logged_in(carol).post(
        f"/patients/{patient.pk}/record/diagnosis/add/",
        {"icd10_code": "I10", "name": "", "clinical_status": "active", "note": ""},
    )
    assert added.status_code == 302 and tags() == ["高血压"]
    now = timezone.now()
    fasting = "14771-0"
    do_record_results(
        patient,
        None,
        [ResultInput("空腹血糖", now - timedelta(days=2), loinc=fasting, value=6.5, unit="mmol/L")],
        source="manual",
        source_label="test",
    )
    assert tags() == ["血糖临界", "高血压"]  # impaired fasting glucose (6.1–<7.0)
    do_record_results(
        patient,
        None,
        [
            ResultInput(
                "空腹血糖", now - timedelta(hours=1), loinc=fasting, value=7.4, unit="mmol/L"
            )
        ],
        source="manual",
        source_label="test",
    )
    assert tags() == ["高血压"]  # the diabetes range now: no longer borderline
    do_record_results(
        patient,
        None,
        [ResultInput("空腹血糖", now, loinc=fasting, value=6.3, unit="mmol/L")],
        source="manual",
        source_label="test",
    )
    assert tags() == ["血糖临界", "高血压"]  # borderline again within the day: tagged again


def test_the_pack_tags_living_alone_low_digital_literacy_and_a_follow_up_not_reached(
    pack: None, alice: Any, hospital: Any
) -> None:
    """DOMAIN F5's 独居, 数字素养低 and 失访史: no rule condition read the contact preferences
    or the follow-up history, so a patient living alone with low digital literacy, never
    reached, carried none of them."""
    from careloop.followup.models import Task
    from careloop.followup.outcomes import Attempt, do_record_attempt
    from careloop.patients.services import do_enrol_patient, do_update_patient
    from tests.factories import fresh_phone, valid_id

    patient = do_enrol_patient(
        alice,
        {
            "name": "孤老汉",
            "id_number": valid_id(),
            "phone": fresh_phone(),
            "organisation": hospital.pk,
            "lives_alone": True,
            "digital_literacy": "low",
        },
    )
    tags = lambda: sorted(patient.tags.values_list("tag__name", flat=True))  # noqa: E731
    assert tags() == ["数字素养低", "独居"]
    firing = RuleFiring.objects.filter(rule__code="lives-alone-tag").get()
    assert firing.trigger == "record"
    do_update_patient(alice, patient, {"lives_alone": False, "digital_literacy": "medium"})
    assert tags() == []
    now = timezone.now()
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="出院随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        attempts=2,
        due_at=now,
        deadline=now + timedelta(days=1),
    )
    do_record_attempt(task, alice, Attempt(outcome="no_answer"))
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED and tags() == ["失访史"]
    [rule] = [compile_rule(Rule.objects.get(code="lives-alone-tag"))]
    do_update_patient(alice, patient, {"lives_alone": True})
    assert [m.patient_id for m in dry_run(rule, days=1)] == []  # tagged already: not again
    assert tags() == ["失访史", "独居"]


def test_a_rule_on_a_stored_assessment_runs_on_the_results_its_model_reads(db: None) -> None:
    """A rule reading a risk assessment read no code, so it ran (and loaded every patient's
    assessments) on every result of every HL7 batch: it runs on the model's inputs now."""
    from careloop.rules.assessments import MODELS

    rule = compile_rule(
        Rule(
            code="borderline",
            name="血糖临界",
            trigger="observation",
            condition={"kind": "risk", "model": "glucose", "category": "IFG"},
            actions=[{"type": "tag", "tag": "血糖临界"}],
        )
    )
    assert rule.codes == frozenset(MODELS["glucose"][0]) and not rule.series_codes
    assert "8480-6" not in rule.codes  # a blood pressure does not run it


def test_the_rules_commands_times_are_local_with_one_offset(db: None) -> None:
    """``rules dry-run`` gave a match's time in UTC (+00:00) beside the versions' local ones."""
    load_pack()
    patient = PatientFactory()
    store(patient, "8480-6", 185, timezone.now() - timedelta(days=1))
    out = StringIO()
    call_command("rules", "dry-run", "bp-urgent-referral", "--days", "7", stdout=out)
    [match] = json.loads(out.getvalue())["matches"]
    offset = timezone.localtime().strftime("%z")
    assert match["at"].endswith(f"{offset[:3]}:{offset[3:]}")
    out = StringIO()
    call_command("rules", "show", "bp-urgent-referral", stdout=out)
    saved = json.loads(out.getvalue())["versions"][0]["saved_at"]
    assert saved.endswith(f"{offset[:3]}:{offset[3:]}")


def test_a_follow_up_its_channels_failed_to_reach_is_a_history_of_not_reached(
    pack: None, hospital: Any
) -> None:
    """An automated follow-up whose last channel failed (an SMS not delivered, no other
    channel) ends not reached as a recorded one does, but no rule ran: 失访史 waited for the
    next outcome a person recorded."""
    from careloop.followup.models import Task
    from careloop.outreach.queueing import pass_on

    patient = PatientFactory(organisation=hospital)
    now = timezone.now()
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="复诊提醒",
        purpose="revisit_reminder",
        channel="sms",
        channels=["sms"],
        due_at=now,
        deadline=now + timedelta(days=1),
    )
    pass_on(task, "短信：号码无效", now)
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED
    assert list(patient.tags.values_list("tag__name", flat=True)) == ["失访史"]


def test_a_first_chronic_diagnosis_is_tagged_new_and_untagged_by_the_sweep_after_three_months(
    pack: None, carol: Any, cardiology: Any
) -> None:
    """DOMAIN F5's 新确诊: no condition told a first diagnosis from one sent again."""
    from careloop.clinical.models import Condition

    def add(patient: Any, code: str) -> None:
        page = logged_in(carol).post(
            f"/patients/{patient.pk}/record/diagnosis/add/",
            {"icd10_code": code, "name": "", "clinical_status": "active", "onset_date": ""},
        )
        assert page.status_code == 302

    def tags(patient: Any) -> set[str]:
        return set(patient.tags.values_list("tag__name", flat=True))

    first = PatientFactory(organisation=cardiology)
    add(first, "I10")
    assert "新确诊" in tags(first) and "高血压" in tags(first)
    firing = RuleFiring.objects.get(rule__code="new-diagnosis-tag", patient=first)
    assert "I10" in str(firing.reasons)

    known = PatientFactory(organisation=cardiology)  # hypertension known for two years
    Condition.objects.create(
        patient=known,
        icd10_code="I10",
        name="高血压",
        clinical_status="resolved",
        recorded_at=timezone.now() - timedelta(days=730),
    )
    add(known, "I11.9")
    assert "新确诊" not in tags(known) and "高血压" in tags(known)

    assert sweep(now=timezone.now() + timedelta(days=30)) == 0  # still new
    assert "新确诊" in tags(first)
    assert sweep(now=timezone.now() + timedelta(days=91)) == 1
    assert "新确诊" not in tags(first) and "高血压" in tags(first)


def test_a_sweep_rule_needs_a_no_result_part_or_a_tag(pack: None) -> None:
    with pytest.raises(RuleError, match="no_reading"):
        do_save_rule(
            None,
            "sweep-age",
            {
                "name": "x",
                "trigger": "sweep",
                "condition": {"kind": "age", "op": ">=", "value": 65},
                "actions": [{"type": "tag", "tag": "老年"}],
            },
        )


def test_a_post_operative_state_is_tagged_for_thirty_days_each_kind_apart(
    pack: None, carol: Any, cardiology: Any
) -> None:
    """DOMAIN F5's 术后: a stent three years ago does not stop a new operation's tag."""
    from careloop.clinical.models import Condition

    patient = PatientFactory(organisation=cardiology)
    Condition.objects.create(
        patient=patient,
        icd10_code="Z95.5",
        name="冠状动脉支架植入后状态",
        recorded_at=timezone.now() - timedelta(days=1100),
    )
    page = logged_in(carol).post(
        f"/patients/{patient.pk}/record/diagnosis/add/",
        {"icd10_code": "Z98.8", "name": "", "clinical_status": "active", "onset_date": ""},
    )
    assert page.status_code == 302
    assert Condition.objects.get(icd10_code="Z98.8").name == "其他特指的手术后状态"
    assert "术后" in set(patient.tags.values_list("tag__name", flat=True))
    assert sweep(now=timezone.now() + timedelta(days=20)) == 0
    assert sweep(now=timezone.now() + timedelta(days=31)) == 1
    assert "术后" not in set(patient.tags.values_list("tag__name", flat=True))


def test_a_rules_enrolment_keeps_to_the_organisations_a_pathway_is_set_for(
    db: None, hospital: Any, cardiology: Any, community: Any
) -> None:
    from careloop.followup.models import Pathway, Plan
    from careloop.followup.pathways import do_save_pathway

    do_save_pathway(
        None,
        "card-bp",
        {
            "name": "心内科血压随访",
            "definition": {
                "trigger": {"kind": "rule"},
                "nodes": [{"key": "call", "title": "血压随访", "purpose": "condition_tracking"}],
            },
        },
    )
    Pathway.objects.filter(code="card-bp").update(organisation=cardiology)  # as the admin sets
    do_save_rule(
        None,
        "bp-enrol",
        {
            "name": "收缩压高纳入随访",
            "trigger": "observation",
            "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 160},
            "actions": [{"type": "enrol", "pathway": "card-bp"}],
            "enabled": True,
        },
    )
    inside, outside = (
        PatientFactory(organisation=cardiology),
        PatientFactory(organisation=community),
    )
    for p in (inside, outside):
        store(p, SBP, 170, timezone.now())
    # The cardiology pathway is the cardiology department's: the community centre's patient
    # is not put on it (as a discharge, a diagnosis or staff on the patient page would not).
    assert Plan.objects.filter(patient=inside).count() == 1
    assert Plan.objects.filter(patient=outside).count() == 0


@pytest.mark.django_db
def test_a_stay_cancelled_after_its_discharge_is_no_discharge_to_the_rules(
    hospital: Any, story_time: datetime
) -> None:
    """A discharge undone by the HIS (ADT^A11 cancelling the stay) must not make the patient
    "discharged within 30 days" for the rules; a real stay does."""
    from careloop.clinical.models import Encounter
    from careloop.rules.engine import run_for_event
    from careloop.rules.models import Trigger

    heart_failure_rules()
    patient = PatientFactory(organisation=hospital)  # 66 years old
    stay = {"patient": patient, "kind": Encounter.Kind.INPATIENT}
    Encounter.objects.create(
        **stay,
        started_at=story_time - timedelta(days=5),
        ended_at=story_time - timedelta(days=2),
        status=Encounter.Status.CANCELLED,
    )
    run_for_event(Trigger.ENCOUNTER, [patient.pk])
    patient.refresh_from_db()
    assert patient.risk_tier != "high"
    Encounter.objects.create(
        **stay,
        started_at=story_time - timedelta(days=4),
        ended_at=story_time - timedelta(days=1),
        status=Encounter.Status.FINISHED,
    )
    run_for_event(Trigger.ENCOUNTER, [patient.pk])
    patient.refresh_from_db()
    assert patient.risk_tier == "high"


TC = "2093-3"
UNITS[TC], NAMES[TC] = "mmol/L", "总胆固醇"


def china_par(patient: Any, category: str) -> None:
    from careloop.rules.models import RiskAssessment

    RiskAssessment.objects.create(
        patient=patient,
        model="china-par",
        version="2016",
        category=category,
        inputs={},
        result={"risk_percent": 12.3 if category == "高危" else 6.0},
        explanation="",
    )


def test_a_high_cardiovascular_risk_without_a_cholesterol_for_a_year_is_reviewed_yearly(
    pack: None, hospital: Any, carol: Any
) -> None:
    """REFERENCE §2.2: high-risk people are reassessed yearly (2019 guideline, 每年评估1次)."""
    from careloop.followup.models import Task

    now = timezone.now()
    due, measured, medium = (
        PatientFactory(organisation=hospital, responsible_doctor=carol) for _ in range(3)
    )
    store(due, TC, 6.2, now - timedelta(days=400))
    store(measured, TC, 6.2, now - timedelta(days=200))
    store(medium, TC, 6.2, now - timedelta(days=400))
    china_par(due, "高危")
    china_par(measured, "高危")
    china_par(medium, "中危")
    assert sweep(now=now) == 1
    task = Task.objects.get(patient=due, status=Task.Status.OPEN)
    assert task.title == "年度心血管风险再评估：复查血脂、血压"
    assert task.assignee == carol
    assert not Task.objects.filter(patient__in=[measured, medium]).exists()
    assert sweep(now=now + timedelta(days=30)) == 0  # once a year


def test_hypertension_high_risk_people_without_a_blood_pressure_for_half_a_year_are_called(
    pack: None, hospital: Any, dave: Any
) -> None:
    """REFERENCE §1.1: high-risk people have their blood pressure measured at least every 6
    months: 180 days without one → a task for the health manager."""
    from careloop.followup.models import Task
    from careloop.rules.models import RiskAssessment

    now = timezone.now()
    due, measured = (PatientFactory(organisation=hospital, health_manager=dave) for _ in range(2))
    store(due, SBP, 134, now - timedelta(days=200))
    store(measured, SBP, 134, now - timedelta(days=100))
    for person in (due, measured):
        latest = RiskAssessment.objects.filter(patient=person, model="htn-high-risk").first()
        assert latest is not None and latest.category == "高危人群"  # SBP 130–139
    assert sweep(now=now) == 1
    task = Task.objects.get(patient=due)
    assert task.title == "高血压高危人群：测量血压并做生活方式指导"
    assert task.assignee == dave
    assert not Task.objects.filter(patient=measured).exists()

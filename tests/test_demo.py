"""Demo data: valid synthetic people, every role, idempotent, growable."""

from typing import Any

from django.utils import timezone

from careloop.accounts.models import User
from careloop.accounts.roles import Role
from careloop.demo import load_demo
from careloop.demo.people import person
from careloop.patients import identity
from careloop.patients.access import patients_for
from careloop.patients.models import ConsentRecord, Patient


def test_synthetic_people_are_valid_and_distinct() -> None:
    people = [person(i) for i in range(3000)]
    for p in people:
        resident = identity.parse_id_number(p.id_number)
        assert (resident.birth_date, resident.sex) == (p.birth_date, p.sex)
        identity.validate_mobile(p.phone)
    assert len({p.id_number for p in people}) == len(people)
    assert len({p.phone for p in people}) == len(people)
    assert len({p.card_number for p in people}) == len(people)
    assert person(7) == person(7)


def test_demo_loads_staff_and_patients_once(db: None) -> None:
    first = load_demo(60)
    assert set(first.new_logins) == {
        "admin",
        "supervisor",
        "nurse",
        "doctor",
        "manager",
        "coordinator",
        "cnurse",
        "fdoctor",
    }
    assert first.patients_created == 60
    for role in Role:
        assert User.objects.filter(groups__name=role).exists(), role
    patient = Patient.objects.exclude(id_number="").first()
    assert patient is not None
    identity.parse_id_number(patient.id_number)  # decrypts to a valid number
    assert list(
        Patient.objects.filter(
            id_number_hash__in=Patient.index_hashes("id_number", patient.id_number)
        )
    ) == [patient]
    assert ConsentRecord.objects.filter(patient=patient).exists()

    again = load_demo(60)
    assert again.new_logins == {} and again.patients_created == 0
    more = load_demo(80)
    assert more.patients_created == 20 and more.patients_total == 80


def test_demo_staff_see_their_own_organisations(db: None) -> None:
    load_demo(40)
    nurse = User.objects.get(username="nurse")
    cnurse = User.objects.get(username="cnurse")
    hospital = set(patients_for(nurse).values_list("pk", flat=True))
    community = set(patients_for(cnurse).values_list("pk", flat=True))
    assert hospital and community and not hospital & community
    assert len(hospital) + len(community) == 40


def test_demo_records_read_back_through_the_orm(db: None) -> Any:
    load_demo(30)
    patient = Patient.objects.filter(lifestyle__isnull=False).first()
    assert patient is not None
    assert patient.lifestyle.salt_intake in {"light", "moderate", "heavy"}
    assert patient.quiet_hours_start.hour == 21
    encounter = patient.encounters.first()
    assert encounter is not None and encounter.started_at.tzinfo is not None


def test_demo_patients_have_a_year_of_graded_results_and_some_critical_alerts(db: None) -> None:
    from django.utils import timezone

    from careloop.clinical.models import DiagnosticReport, Observation, Source
    from careloop.demo.results import HOME_GLUCOSE, ITEMS, VISITS
    from careloop.followup.models import Alert
    from careloop.patients.models import PatientTag

    load_demo(90)
    assert DiagnosticReport.objects.count() == 90 * VISITS
    # Last year's annual exam is in an earlier year, for the year-over-year table.
    today = timezone.localdate()
    for patient in Patient.objects.filter(reports__isnull=False).distinct():
        years = {timezone.localtime(r.effective_at).year for r in patient.reports.all()}
        assert min(years) < today.year, patient.pk
    # Beside the exams: home glucose, and what the teams' follow-up calls measured.
    exams = Observation.objects.exclude(code=HOME_GLUCOSE).exclude(source=Source.MANUAL)
    assert exams.count() == 90 * VISITS * len(ITEMS)
    # Patients 5, 45 and 85 monitor glucose at home; 5 had a low reading last night.
    assert PatientTag.objects.filter(tag__name="血糖监测").count() == 3
    assert Observation.objects.filter(code=HOME_GLUCOSE).count() > 3 * 10
    night = Alert.objects.get(kind=Alert.Kind.RULE, title="夜间低血糖")
    assert "3.4 mmol/L" in night.reason
    assert Observation.objects.exclude(interpretation__in=["", "N"]).exists()
    # Patients 3, 43 and 83 have a critical value at their latest visit, each alerted.
    alerts = Alert.objects.filter(kind=Alert.Kind.CRITICAL_VALUE)
    assert alerts.count() == 3
    assert all(a.observation is not None and a.observation.critical for a in alerts)
    assert {a.observation.code for a in alerts if a.observation} == {"14771-0", "2823-3"}
    readings = Observation.objects.count()
    load_demo(90)  # idempotent: nothing twice
    assert Observation.objects.count() == readings


def test_demo_patients_are_on_their_pathways_counted_from_their_own_moment(db: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from careloop.clinical.models import Encounter
    from careloop.followup.models import Plan

    load_demo(120)
    plans = list(Plan.objects.select_related("pathway"))
    by_pathway = {
        code: [p for p in plans if p.pathway.code == code]
        for code in {p.pathway.code for p in plans}
    }
    assert by_pathway.get("htn-programme") and by_pathway.get("dm-programme")
    now = timezone.now()
    for plan in by_pathway["htn-programme"] + by_pathway["dm-programme"]:
        assert now - timedelta(days=21) < plan.anchor <= now
        assert plan.patient.age >= 35 and plan.tasks.exists()
    for plan in by_pathway.get("discharge-heart", []):
        stay = Encounter.objects.get(pk=int(plan.trigger_ref.split(":")[1]))
        assert (stay.patient_id, stay.ended_at) == (plan.patient_id, plan.anchor)
    assert len({p.anchor.date() for p in by_pathway["htn-programme"]}) > 1  # not all "now"
    load_demo(120)
    assert Plan.objects.count() == len(plans)


def test_every_demo_patients_doctor_and_health_manager_can_open_them(db: None) -> None:
    """Their alerts, tasks and notices go to these people: each must be able to open them."""
    from careloop.patients.access import staff_sees

    load_demo(20)
    for patient in Patient.objects.all():
        assert patient.responsible_doctor_id is not None
        for owner in (patient.responsible_doctor_id, patient.health_manager_id):
            assert owner is None or staff_sees(owner, patient), (patient.organisation, owner)


def test_demo_patients_are_stratified_so_the_worklist_orders_by_risk(db: None) -> None:
    from careloop.clinical.models import Condition
    from careloop.followup.worklist import RISK_WEIGHT

    load_demo(120)
    tiers = dict(Patient.objects.values_list("pk", "risk_tier"))
    assert {"high", "medium", "low"} <= set(tiers.values())
    cardiac = set(
        Condition.objects.filter(
            icd10_code__regex=r"^(I25|I50|I63)", patient_id__in=list(tiers)
        ).values_list("patient_id", flat=True)
    )
    assert cardiac and all(tiers[pk] == "high" for pk in cardiac)
    assert RISK_WEIGHT["high"] > RISK_WEIGHT["medium"] > RISK_WEIGHT.get("low", 0)


def test_demo_patients_living_alone_or_with_low_digital_literacy_are_tagged(db: None) -> None:
    """Demo patient 4 lived alone with low digital literacy and carried no tag (F5)."""
    from careloop.patients.models import PatientTag

    load_demo(120)
    tagged = set(PatientTag.objects.values_list("patient_id", "tag__name"))
    alone = Patient.objects.filter(lives_alone=True).values_list("pk", flat=True)
    low = Patient.objects.filter(digital_literacy="low").values_list("pk", flat=True)
    assert alone and low
    assert all((pk, "独居") in tagged for pk in alone)
    assert all((pk, "数字素养低") in tagged for pk in low)
    assert not any(name == "独居" and pk not in set(alone) for pk, name in tagged)


def test_demo_teams_have_a_history_of_follow_ups_to_show(db: None) -> None:
    from django.utils import timezone

    from careloop.followup.models import FollowUpRecord, Outcome, Plan, Task

    load_demo(80)
    now = timezone.now()
    records = list(FollowUpRecord.objects.select_related("task", "task__plan"))
    outcomes = {r.outcome for r in records}
    assert Outcome.REACHED in outcomes and outcomes & {Outcome.NO_ANSWER, Outcome.BUSY}
    for r in records:
        # Made when the task was due, not when the demo was loaded, by someone on the team.
        assert r.at < now and r.by is not None
        assert r.task.plan is not None and r.at >= r.task.plan.started_at
        if r.outcome == Outcome.REACHED:
            assert r.task.status == Task.Status.DONE and r.task.closed_at == r.at
    assert any(r.classification for r in records)  # the national forms were filled in
    # Some work is left undone: overdue on the worklist.
    assert Task.objects.filter(status=Task.Status.OPEN, due_at__lt=now).exists()
    programme = Plan.objects.filter(pathway__code="htn-programme").first()
    assert programme is not None and programme.started_at == programme.anchor
    assert FollowUpRecord.objects.count() == len(records)
    load_demo(80)  # loaded again: no second history
    assert FollowUpRecord.objects.count() == len(records)


def test_demo_has_lectures_to_sign_up_for_and_exam_packages_to_book(db: None) -> None:
    from careloop.care.models import Lecture
    from careloop.followup.models import ExamPackage
    from careloop.portal.models import PointsEntry

    load_demo(30)
    load_demo(30)  # loaded again: no second copy
    assert Lecture.objects.count() == 4
    held = Lecture.objects.get(title="合理膳食，吃出健康")
    assert held.seats.filter(attended_at__isnull=False).count() == 5
    assert PointsEntry.objects.filter(reason__startswith="参加健康讲座").count() == 5
    assert Lecture.objects.filter(starts_at__gt=timezone.now()).count() == 3
    assert ExamPackage.objects.filter(is_active=True).count() == 5

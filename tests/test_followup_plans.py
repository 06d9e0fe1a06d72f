"""Pathways and plans with frozen time: enrolment from a discharge over HL7, generation of
near-future tasks, retries, programme intervals, tier re-planning, stop conditions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hl7 import parse as hl7_parse

from careloop.clinical.models import Condition, Encounter
from careloop.followup.models import FollowUpRecord, Holiday, Pathway, Plan, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.pathways import do_save_pathway, load_pack
from careloop.followup.planning import enrol, extend_plans, replan_tiers
from careloop.followup.triggers import on_diagnosis, on_discharge
from careloop.interop.mllp import MllpServer
from careloop.patients.models import Patient
from careloop.patients.services import do_update_patient
from tests.test_mllp import hospital_org, mllp, process_all, send  # noqa: F401 (fixtures)

SH = ZoneInfo("Asia/Shanghai")
DISCHARGED = datetime(2026, 11, 10, 15, 0, tzinfo=SH)


class Clock:
    def __init__(self, monkeypatch: Any, start: datetime) -> None:
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return Clock(monkeypatch, DISCHARGED + timedelta(hours=1))


@pytest.fixture
def pack(db: None) -> None:
    load_pack()


def days(plan: Plan) -> dict[str, int]:
    anchor = timezone.localtime(plan.anchor).date()
    return {
        t.node: (timezone.localtime(t.due_at).date() - anchor).days
        for t in plan.tasks.order_by("due_at", "node")
    }


@pytest.mark.django_db(transaction=True)
def test_a_heart_failure_discharge_over_hl7_enrols_the_patient(
    mllp: MllpServer,  # noqa: F811 (the fixture imported above)
    clock: Clock,
    pack: None,
) -> None:
    """ADT^A03 with DG1 I50.9 and I10 → the heart pathway (day 1 care guide, day 3/7/14/30
    checks, day 14 video revisit) and the hypertension programme (patient aged 78)."""
    from tests.test_mllp import msa

    assert msa(send(mllp, "adt_a03_discharge.hl7")) == "AA"
    process_all()
    patient = Patient.objects.get()
    plans = {p.pathway.code: p for p in Plan.objects.filter(patient=patient)}
    assert set(plans) == {"discharge-heart", "htn-programme"}
    heart = plans["discharge-heart"]
    assert heart.anchor == DISCHARGED
    assert heart.trigger == "discharge" and "I50.9" in heart.reason
    assert days(heart) == {
        "care-guide": 1,
        "check-d3": 3,
        "check-d7": 7,
        "video-d14": 14,
        "check-d14": 14,
        "check-d30": 30,
    }
    video = heart.tasks.get(node="video-d14")
    assert (video.channel, video.assignee_role, video.purpose) == (
        "video",
        "doctor",
        "revisit_reminder",
    )
    first = heart.tasks.get(node="care-guide")
    assert timezone.localtime(first.due_at).time().hour == 9  # the node's window
    assert Plan.objects.get(pathway__code="htn-programme").tasks.get().form == "htn"
    # The same discharge again (a resent message) enrols nobody twice.
    on_discharge([patient.pk])
    assert Plan.objects.filter(patient=patient).count() == 2


def test_a_discharge_without_a_specific_pathway_takes_the_tier_matrix(
    hospital: Any, bob: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital, risk_tier="high", value_tier="high")
    stay = Encounter.objects.create(
        patient=patient,
        organisation=hospital,
        kind=Encounter.Kind.INPATIENT,
        started_at=DISCHARGED - timedelta(days=5),
        ended_at=DISCHARGED,
    )
    Condition.objects.create(patient=patient, icd10_code="K35.8", name="急性阑尾炎", encounter=stay)
    [plan] = on_discharge([patient.pk])
    assert plan.pathway.code == "discharge-general"
    tiered = sorted(
        (timezone.localtime(t.due_at).date() - DISCHARGED.date()).days
        for t in plan.tasks.filter(node="tiered")
    )
    assert tiered == [7, 14, 21, 28]  # high risk + high value: weekly for a month
    # The pathway's channel rules: high risk is called first (DOMAIN.md F9, seed 003).
    first = plan.tasks.filter(node="tiered").first()
    assert (first.channel, first.channels) == ("phone", ["phone", "voice", "sms"])
    # The value tier falls, and staff lower the risk on the patient's record: future tiered
    # tasks are re-planned at the new frequency.
    clock.set(DISCHARGED + timedelta(days=8))
    Patient.objects.filter(pk=patient.pk).update(value_tier="medium")
    do_update_patient(bob, patient, {"risk_tier": "low"})
    assert replan_tiers([patient.pk]) == 0  # done already, by the change itself
    replanned = plan.tasks.filter(node="tiered", status=Task.Status.OPEN, revision=1)
    offsets = [(timezone.localtime(t.due_at).date() - DISCHARGED.date()).days for t in replanned]
    assert offsets == [30]  # low risk + medium value: monthly for 2 months (day 61 comes later)
    assert [t.channel for t in replanned] == ["sms"]  # low risk: an SMS first
    cancelled = plan.tasks.filter(node="tiered", status=Task.Status.CANCELLED)
    assert cancelled.count() == 3 and "分层" in cancelled.first().cancel_reason
    # The day-7 one was already due before the change and stays.
    assert plan.tasks.filter(node="tiered", status=Task.Status.OPEN, revision=0).count() == 1


def test_plans_hold_only_near_future_tasks_and_extend_nightly(
    hospital: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    pathway, _ = do_save_pathway(
        None,
        "weekly-year",
        {
            "name": "每周随访一年",
            "definition": {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {
                        "key": "w",
                        "title": "每周随访",
                        "purpose": "condition_tracking",
                        "every": "weekly",
                        "count": 52,
                        "day": 7,
                    }
                ],
            },
        },
    )
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, pathway, trigger="manual")
    assert plan is not None and plan.tasks.count() == 4  # days 7, 14, 21, 28 (30-day horizon)
    assert extend_plans() == {"tasks_created": 0, "patients_stopped": 0}  # idempotent
    clock.set(clock.now + timedelta(days=14))
    assert extend_plans()["tasks_created"] == 2
    assert plan.tasks.count() == 6


def test_due_dates_skip_holidays_and_respect_quiet_hours(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    Holiday.objects.create(day=date(2026, 11, 12), name="测试假日")
    pathway, _ = do_save_pathway(
        None,
        "early",
        {
            "name": "早间电话",
            "definition": {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {
                        "key": "a",
                        "title": "早间电话",
                        "purpose": "emotional_care",
                        "day": 2,
                        "window": ["07:00", "11:00"],
                    }
                ],
            },
        },
    )
    patient = patient_factory(organisation=hospital)
    patient.quiet_hours_end = datetime(2000, 1, 1, 9, 30).time()
    patient.save()
    plan = enrol(patient, pathway, trigger="manual", anchor=DISCHARGED)
    assert plan is not None
    task = plan.tasks.get()
    assert timezone.localtime(task.due_at) == datetime(2026, 11, 13, 9, 30, tzinfo=SH)


def _same_day_pathway(key: str, **node: Any) -> Pathway:
    pathway, _ = do_save_pathway(
        None,
        key,
        {
            "name": "当天随访",
            "definition": {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {"key": "a", "title": "当天电话", "purpose": "emotional_care", "day": 0, **node}
                ],
            },
        },
    )
    return pathway


def test_a_same_day_node_enrolled_after_its_window_is_due_the_next_morning(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """Enrolled at 17:40, after the day-0 node's 09:00–17:00 window: the call is due the next
    morning, not skipped (which completed the plan with nothing done)."""
    clock.set(datetime(2026, 11, 10, 17, 40, tzinfo=SH))
    pathway = _same_day_pathway("same-day")
    plan = enrol(patient_factory(organisation=hospital), pathway, trigger="manual")
    assert plan is not None and plan.status == Plan.Status.ACTIVE
    task = plan.tasks.get()
    assert timezone.localtime(task.due_at) == datetime(2026, 11, 11, 9, 0, tzinfo=SH)
    assert timezone.localtime(task.deadline) == datetime(2026, 11, 11, 17, 0, tzinfo=SH)


def test_a_daily_node_enrolled_after_its_window_does_not_double_the_next_day(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """A daily node's missed first occurrence is not moved onto the day of its second."""
    clock.set(datetime(2026, 11, 10, 17, 40, tzinfo=SH))
    pathway = _same_day_pathway("same-day-daily", every="daily", count=3)
    plan = enrol(patient_factory(organisation=hospital), pathway, trigger="manual")
    assert plan is not None
    due = [timezone.localtime(t.due_at).date() for t in plan.tasks.order_by("due_at")]
    assert due == [date(2026, 11, 11), date(2026, 11, 12)]


def test_a_late_first_occurrence_is_not_doubled_onto_the_next_one_after_a_holiday(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """Enrolled at 17:40 on the eve of a week's holiday (国庆): the weekly node's missed
    first call, moved to the next day, is moved off the holiday onto the first working day,
    which is where its second occurrence falls too: one call that day, not two."""
    for offset in range(7):
        Holiday.objects.create(day=date(2026, 11, 11) + timedelta(days=offset), name="测试假日")
    clock.set(datetime(2026, 11, 10, 17, 40, tzinfo=SH))
    pathway = _same_day_pathway("same-day-weekly", every="weekly", count=2)
    plan = enrol(patient_factory(organisation=hospital), pathway, trigger="manual")
    assert plan is not None
    due = [timezone.localtime(t.due_at).date() for t in plan.tasks.order_by("due_at")]
    assert due == [date(2026, 11, 18)]


def test_a_node_moved_off_a_holiday_onto_today_and_planned_after_its_window_is_due_next_day(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """Discharged on the 10th; the day-1 call falls on a holiday (the 11th) and so is due on
    the 12th; the discharge reaches CareLoop on the 12th at 17:40, after that day's window:
    the call is due the next morning, as any same-day call planned late, not dropped."""
    Holiday.objects.create(day=date(2026, 11, 11), name="测试假日")
    clock.set(datetime(2026, 11, 12, 17, 40, tzinfo=SH))
    pathway = _same_day_pathway("moved-day", day=1)
    plan = enrol(
        patient_factory(organisation=hospital), pathway, trigger="manual", anchor=DISCHARGED
    )
    assert plan is not None and plan.status == Plan.Status.ACTIVE
    task = plan.tasks.get()
    assert timezone.localtime(task.due_at) == datetime(2026, 11, 13, 9, 0, tzinfo=SH)


def test_a_discharge_late_at_night_imported_after_midnight_keeps_its_day_0_call(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """Discharged at 23:50, the message imported at 00:10: the day-0 call is due that
    morning (the next day's window), as it would have been had it been planned at 23:50."""
    discharged = datetime(2026, 11, 10, 23, 50, tzinfo=SH)
    clock.set(discharged + timedelta(minutes=20))
    pathway = _same_day_pathway("same-day-midnight")
    plan = enrol(
        patient_factory(organisation=hospital), pathway, trigger="manual", anchor=discharged
    )
    assert plan is not None and plan.status == Plan.Status.ACTIVE
    task = plan.tasks.get()
    assert timezone.localtime(task.due_at) == datetime(2026, 11, 11, 9, 0, tzinfo=SH)


def test_a_day_0_node_of_a_past_discharge_is_not_created(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """A discharge learnt of days later: its day-0 call is past and not created."""
    clock.set(DISCHARGED + timedelta(days=2))
    pathway = _same_day_pathway("same-day-past", grace_days=0)
    plan = enrol(
        patient_factory(organisation=hospital), pathway, trigger="manual", anchor=DISCHARGED
    )
    assert plan is not None and not plan.tasks.exists()
    assert plan.status == Plan.Status.COMPLETED


def test_an_occurrence_whose_grace_days_passed_before_it_was_planned_is_not_created(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """A day-0 call with 2 grace days, the discharge learnt of 3 days later: its day and its
    grace are past, so it is not created (it was, due two days before it was planned, with
    a day more than its grace: the next day's window counted its grace days as its own)."""
    clock.set(DISCHARGED + timedelta(days=3))
    pathway = _same_day_pathway("same-day-grace-past", grace_days=2)
    plan = enrol(
        patient_factory(organisation=hospital), pathway, trigger="manual", anchor=DISCHARGED
    )
    assert plan is not None and not plan.tasks.exists()


def test_a_weekly_occurrence_planned_after_its_grace_is_not_doubled_onto_the_next(
    hospital: Any, patient_factory: Any, clock: Clock
) -> None:
    """Weekly calls with 6 grace days, the discharge learnt of 7 days later: the first
    call's week has passed, so only the second is due (both were created, open together)."""
    clock.set(DISCHARGED.replace(hour=10, minute=0) + timedelta(days=7))
    pathway = _same_day_pathway("weekly-grace-past", every="weekly", count=4, grace_days=6)
    plan = enrol(
        patient_factory(organisation=hospital), pathway, trigger="manual", anchor=DISCHARGED
    )
    assert plan is not None
    assert sorted(plan.tasks.values_list("occurrence", flat=True)) == [1, 2, 3]


def test_no_answer_retries_three_times_then_the_next_channel(
    hospital: Any, patient_factory: Any, alice: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    task = plan.tasks.get(node="stitches")
    assert (task.channel, task.channels) == ("phone", ["phone", "sms"])
    clock.set(task.due_at + timedelta(minutes=10))
    seen = []
    for _ in range(3):
        do_record_attempt(task, alice, Attempt(outcome="no_answer"))
        task.refresh_from_db()
        seen.append((task.channel, task.attempts, timezone.localtime(task.due_at).hour))
        clock.set(task.due_at + timedelta(minutes=5))
    assert seen[0] == ("phone", 1, 13)  # the afternoon of the same day
    assert seen[1][:2] == ("phone", 2)
    assert seen[2][:2] == ("sms", 0)  # three tries on the phone: the next channel
    do_record_attempt(task, alice, Attempt(outcome="wrong_number"))
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED
    assert FollowUpRecord.objects.filter(task=task).count() == 4
    with pytest.raises(ValidationError):
        do_record_attempt(task, alice, Attempt(outcome="reached"))


def test_the_channels_before_the_preferred_one_are_tried_after_it(
    hospital: Any, patient_factory: Any, alice: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital, preferred_channel="phone")
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    task = plan.tasks.get(node="stitches")
    Task.objects.filter(pk=task.pk).update(channels=["clinic", "home_visit", "phone"])
    task.refresh_from_db()
    assert task.channel == "phone"  # the preferred one first
    tried = []
    for _ in range(3):
        clock.set(task.due_at + timedelta(minutes=5))
        for _ in range(3):
            do_record_attempt(task, alice, Attempt(outcome="no_answer"))
            task.refresh_from_db()
            clock.set(task.due_at + timedelta(minutes=5))
        tried.append(task.channel if task.status == Task.Status.OPEN else task.status)
    assert tried == ["clinic", "home_visit", Task.Status.FAILED]


def test_hypertension_programme_next_visit_from_the_classification(
    hospital: Any, patient_factory: Any, carol: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital, birth_date=date(1960, 5, 1))
    Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    [plan] = on_diagnosis([patient.pk])
    first = plan.tasks.get()
    assert (timezone.localtime(first.due_at).date() - clock.now.date()).days == 7
    clock.set(first.due_at + timedelta(hours=1))
    form = {"sbp": 152, "dbp": 92, "symptoms": ["无症状"], "heart_rate": 76, "weight_kg": 70}
    entry = do_record_attempt(first, carol, Attempt(outcome="reached", answers=form))
    assert entry.classification == "控制不满意"
    second = plan.tasks.get(status=Task.Status.OPEN)
    assert (timezone.localtime(second.due_at).date() - clock.now.date()).days == 14
    # The visit's blood pressure is a result on the record (graded, read by the rules).
    assert patient.observations.filter(code="8480-6", value=152).exists()
    clock.set(second.due_at + timedelta(hours=1))
    entry = do_record_attempt(
        second, carol, Attempt(outcome="reached", answers={**form, "sbp": 128, "dbp": 80})
    )
    assert entry.classification == "控制满意"
    third = plan.tasks.get(status=Task.Status.OPEN)
    assert (timezone.localtime(third.due_at).date() - clock.now.date()).days == 90  # ≤ 3 months


def test_a_programme_below_its_minimum_age_does_not_enrol(
    hospital: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    young = patient_factory(organisation=hospital, birth_date=date(2000, 1, 1))
    Condition.objects.create(patient=young, icd10_code="I10", name="原发性高血压")
    assert on_diagnosis([young.pk]) == []


def test_deceased_stops_every_plan(
    hospital: Any, patient_factory: Any, alice: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    task = plan.tasks.order_by("due_at").first()
    do_record_attempt(task, alice, Attempt(outcome="deceased"))
    plan.refresh_from_db()
    patient.refresh_from_db()
    assert (plan.status, plan.stop_reason) == (Plan.Status.STOPPED, Plan.StopReason.DECEASED)
    assert patient.deceased_on == clock.now.date()
    assert not plan.tasks.filter(status=Task.Status.OPEN).exists()
    assert enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual") is None


def test_a_running_plan_keeps_its_version(
    hospital: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital)
    pathway = Pathway.objects.get(code="post-op")
    plan = enrol(patient, pathway, trigger="manual")
    assert plan is not None
    definition = pathway.definition
    definition["nodes"][0]["count"] = 3
    pathway, changed = do_save_pathway(
        None, "post-op", {"name": pathway.name, "definition": definition}
    )
    assert changed and pathway.version == 2
    plan.refresh_from_db()
    assert plan.version.version == 1
    assert plan.tasks.filter(node="wound").count() == 14
    other = enrol(patient_factory(organisation=hospital), pathway, trigger="manual")
    assert other is not None and other.tasks.filter(node="wound").count() == 3


def test_a_visit_cancels_revisit_reminders_it_makes_moot(
    hospital: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    from careloop.rules.engine import run_for_event

    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    clock.set(clock.now + timedelta(days=5))
    Encounter.objects.create(
        patient=patient, organisation=hospital, kind=Encounter.Kind.OUTPATIENT, started_at=clock.now
    )
    run_for_event("encounter", [patient.pk])
    reminder = plan.tasks.get(node="stitches")
    assert reminder.status == Task.Status.CANCELLED and "已就诊" in reminder.cancel_reason
    assert plan.tasks.filter(node="wound", status=Task.Status.OPEN).exists()


def test_a_rule_enrols_in_a_pathway(
    hospital: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    from careloop.rules.services import do_save_rule
    from tests.test_rules import SBP, store

    do_save_rule(
        None,
        "sbp-very-high-enrol",
        {
            "name": "收缩压≥180 纳入术后随访（测试）",
            "trigger": "observation",
            "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 180},
            "actions": [{"type": "enrol", "pathway": "post-op"}],
            "enabled": True,
        },
    )
    patient = patient_factory(organisation=hospital)
    store(patient, SBP, 185, clock.now)
    plan = Plan.objects.get(patient=patient)
    assert (plan.pathway.code, plan.trigger) == ("post-op", "rule")
    assert "sbp-very-high-enrol" in plan.reason


def test_a_rule_creates_a_follow_up_task_once_while_it_is_open(
    hospital: Any, patient_factory: Any, clock: Clock, carol: Any
) -> None:
    from careloop.rules.models import RuleFiring
    from careloop.rules.services import do_save_rule
    from tests.test_rules import SBP, store

    do_save_rule(
        None,
        "sbp-call",
        {
            "name": "收缩压≥160 医生电话（测试）",
            "trigger": "observation",
            "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 160},
            "actions": [
                {"type": "task", "title": "医生电话了解血压", "role": "doctor", "due_hours": 8}
            ],
            "cooldown_hours": 0,
            "enabled": True,
        },
    )
    patient = patient_factory(organisation=hospital, responsible_doctor=carol)
    store(patient, SBP, 172, clock.now)
    task = Task.objects.get(patient=patient)
    assert (task.title, task.assignee, task.plan, task.channel) == (
        "医生电话了解血压",
        carol,
        None,
        "phone",
    )
    assert task.deadline == clock.now + timedelta(hours=8)
    assert RuleFiring.objects.get().actions == [{"type": "task", "title": "医生电话了解血压"}]
    clock.set(clock.now + timedelta(hours=1))
    store(patient, SBP, 175, clock.now)
    assert Task.objects.filter(patient=patient).count() == 1  # not again while it is open


@pytest.mark.django_db(transaction=True)
def test_abnormal_lab_results_over_hl7_enrol_through_a_queued_job(
    mllp: MllpServer,  # noqa: F811 (the fixture imported above)
    clock: Clock,
    pack: None,
) -> None:
    """An ORU^R01 with glucose 3.2 (L) and potassium 6.8 (HH) → after commit one job is
    queued, and the worker enrols the patient in the post-exam pathway, counted from the
    results; the listener never did that work."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from tests.test_mllp import msa

    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=SH))
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    assert not Plan.objects.exists()
    queued = DBTaskResult.objects.filter(task_path__endswith="enrol_abnormal")
    assert queued.count() == 1
    from careloop.followup.triggers import on_abnormal

    # The job looks first without writing (no transaction, no write lock when nothing to do).
    [would] = on_abnormal([Patient.objects.get().pk], dry_run=True)
    assert would.pk is None and would.pathway.code == "exam-abnormal"
    assert not Plan.objects.exists()
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    plan = Plan.objects.get()
    assert on_abnormal([plan.patient_id], dry_run=True) == []
    assert (plan.pathway.code, plan.trigger) == ("exam-abnormal", "abnormal")
    assert "钾 6.8" in plan.reason and "葡萄糖 3.2" in plan.reason
    assert plan.anchor == datetime(2026, 11, 23, 22, 15, tzinfo=SH)
    assert days(plan) == {"explain": 1, "recheck-reminder": 30}
    # The same results again enrol nobody twice; a hand-entered high reading alone does not
    # enrol (the trigger reads exam and lab reports).
    assert on_abnormal([plan.patient_id]) == []
    other = Patient.objects.create(
        name="钱手录",
        sex="male",
        birth_date=date(1960, 1, 1),
        organisation=plan.patient.organisation,
    )
    from careloop.clinical.assessment import ResultInput
    from careloop.clinical.models import Source
    from careloop.clinical.services import do_record_results

    do_record_results(
        other,
        None,
        [ResultInput("收缩压", clock.now, loinc="8480-6", value=172, unit="mmHg")],
        source=Source.MANUAL,
        source_label="随访记录",
    )
    assert on_abnormal([other.pk]) == []


def test_the_nightly_job_enrols_everyone_eligible_once(pack: None, clock: Clock) -> None:
    """Every hypertensive patient aged 35+ not on the programme goes on it in bulk (plans
    and first visits inserted together); the dead, the young and those already on it or
    once enrolled for that diagnosis are left alone; a second run changes nothing."""
    from careloop.followup.bulk_enrol import enrol_eligible
    from tests.factories import PatientFactory

    def hypertensive(name: str, born: date, **fields: Any) -> Patient:
        patient = PatientFactory(name=name, birth_date=born, **fields)
        Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
        return patient

    eligible = [hypertensive(f"甲{n}", date(1950 + n, 1, 1)) for n in range(5)]
    young = hypertensive("乙", date(2000, 1, 1))
    dead = hypertensive("丙", date(1940, 1, 1), deceased_on=date(2026, 1, 1))
    stopped = hypertensive("丁", date(1945, 1, 1))
    on_diagnosis([stopped.pk])
    Plan.objects.filter(patient=stopped).update(status=Plan.Status.STOPPED)
    # Two shares (as two processes would take them), small pages: the keyset paging is
    # exercised, and together they enrol everyone once.
    shares = [enrol_eligible(batch=2, shard=(i, 2)) for i in range(2)]
    assert sum(share["htn-programme"]["enrolled"] for share in shares) == 5
    assert all(share["htn-programme"]["enrolled"] for share in shares)
    enrolled = set(
        Plan.objects.filter(pathway__code="htn-programme", status="active").values_list(
            "patient_id", flat=True
        )
    )
    assert enrolled == {p.pk for p in eligible}
    assert not Plan.objects.filter(patient__in=[young, dead]).exists()
    task = Task.objects.get(patient=eligible[0])
    assert (task.form, task.plan.trigger) == ("htn", "diagnosis")
    assert task.plan.reason == "诊断 I10 原发性高血压"
    assert enrol_eligible()["htn-programme"] == {"enrolled": 0, "tasks": 0}
    # Someone who opts out is not put back by the next night's run.
    from careloop.followup.planning import stop_plan

    stop_plan(Plan.objects.get(patient=eligible[1]), Plan.StopReason.OPTED_OUT)
    Condition.objects.create(patient=eligible[1], icd10_code="I11.9", name="高血压性心脏病")
    assert enrol_eligible()["htn-programme"] == {"enrolled": 0, "tasks": 0}
    # A new hypertension diagnosis of someone whose earlier plan stopped (not opted out)
    # enrols them again, for that diagnosis; the opted-out one's is still left alone.
    new = Condition.objects.create(patient=stopped, icd10_code="I10", name="原发性高血压 复诊")
    Condition.objects.create(patient=eligible[1], icd10_code="I10", name="原发性高血压 复诊")
    assert enrol_eligible(batch=2)["htn-programme"] == {"enrolled": 1, "tasks": 1}
    again = Plan.objects.get(patient=stopped, status="active")
    assert again.trigger_ref == f"condition:{new.pk}"


def test_the_nightly_job_pages_past_diagnoses_already_used(pack: None, clock: Clock) -> None:
    """A patient whose diagnoses fill a whole page of candidates, each already the trigger of
    a plan that stopped, is still enrolled for the newer diagnosis after them."""
    from careloop.followup.bulk_enrol import enrol_eligible
    from tests.factories import PatientFactory

    patient = PatientFactory(name="戊", birth_date=date(1950, 1, 1))
    used = [
        Condition.objects.create(patient=patient, icd10_code="I10", name=f"原发性高血压 {n}")
        for n in range(2)
    ]
    [plan] = on_diagnosis([patient.pk])
    for condition in used:
        plan.pk = None
        plan.status = Plan.Status.STOPPED
        plan.trigger_ref = f"condition:{condition.pk}"
        plan.save()
    Plan.objects.filter(patient=patient, status="active").update(status=Plan.Status.STOPPED)
    new = Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压 复诊")
    assert enrol_eligible(batch=2)["htn-programme"] == {"enrolled": 1, "tasks": 1}
    again = Plan.objects.get(patient=patient, status="active")
    assert again.trigger_ref == f"condition:{new.pk}"


def test_the_nightly_candidates_come_in_full_batches_of_distinct_patients(
    pack: None, clock: Clock
) -> None:
    """Candidates are read a window of patients at a time (ids, not a LIMIT over the matching
    diagnoses) and handed out in batches of at most ``batch``: every eligible patient once,
    in id order, patients without the diagnosis in between skipped."""
    from careloop.followup.bulk_enrol import _diagnosis_candidates
    from careloop.followup.models import Pathway
    from careloop.followup.pathways import current_version, definition_of
    from tests.factories import PatientFactory

    eligible = []
    for n in range(7):
        patient = PatientFactory(name=f"己{n}", birth_date=date(1950, 1, 1))
        PatientFactory(name=f"庚{n}", birth_date=date(1950, 1, 1))  # no diagnosis
        for code in ("I10", "i10.9"):  # two matching rows, one in lower case
            Condition.objects.create(patient=patient, icd10_code=code, name="高血压")
        eligible.append(patient.pk)
    pathway = Pathway.objects.get(code="htn-programme")
    spec = definition_of(current_version(pathway)).trigger
    batches = list(_diagnosis_candidates(pathway, spec, clock.now, batch=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [pk for b in batches for pk, _ref, _reason in b] == sorted(eligible)


def test_a_programme_visit_due_within_two_weeks_is_never_moved_past_them(
    hospital: Any, patient_factory: Any, carol: Any, clock: Clock, pack: None
) -> None:
    """ "Within 2 weeks" (REFERENCE §1.3): when the 14th day is a holiday the visit falls due
    on the working day before it, not after the holidays, and it is late after the 14th."""
    patient = patient_factory(organisation=hospital, birth_date=date(1960, 5, 1))
    Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    [plan] = on_diagnosis([patient.pk])
    first = plan.tasks.get()
    clock.set(first.due_at + timedelta(hours=1))
    visit_day = timezone.localtime(clock.now).date()
    fourteenth = visit_day + timedelta(days=14)
    for offset in range(-1, 6):  # the 13th to the 19th day: a week of holidays
        Holiday.objects.create(day=fourteenth + timedelta(days=offset), name="国庆")
    form = {"sbp": 152, "dbp": 92, "symptoms": ["无症状"], "heart_rate": 76}
    do_record_attempt(first, carol, Attempt(outcome="reached", answers=form))
    second = plan.tasks.get(status=Task.Status.OPEN)
    assert timezone.localtime(second.due_at).date() == fourteenth - timedelta(days=2)
    assert timezone.localtime(second.deadline).date() == fourteenth


def _a03(control_id: str, pv1: str) -> str:
    from tests.test_mllp import fixture

    lines = fixture("adt_a03_discharge.hl7").decode().split("\r")
    lines[0] = lines[0].replace("HIS-A03-0001", control_id)
    lines[3] = pv1
    return "\r".join(lines)


_PV1 = "PV1|1|I|心内科^0301^05||||D001^张^医生|||CARD|||||||||"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("pv1", "ended"),
    [
        # no discharge time (PV1-45): discharged when the event happened (EVN-2)
        (f"{_PV1}ZY20261101001|||||||||||||||||||||||||20261101083000", DISCHARGED),
        # no visit number (PV1-19) either
        ("PV1|1|I|心内科^0301^05||||D001^张^医生|||CARD", DISCHARGED),
        # a stay first heard of at its discharge, a minute before the message (no PV1-44)
        (
            f"{_PV1}ZY20261101009||||||||||||||||||||||||||20261110145900",
            DISCHARGED.replace(hour=14, minute=59),
        ),
        # a discharge dated by its day alone, on the day of a 10:30 admission
        (
            f"{_PV1}ZY20261101008|||||||||||||||||||||||||202611101030|20261110",
            DISCHARGED.replace(hour=10, minute=30),
        ),
    ],
    ids=["no-discharge-time", "no-visit-number", "no-admission-time", "discharge-day-only"],
)
def test_a_discharge_without_its_time_or_visit_number_still_enrols(
    mllp: MllpServer,  # noqa: F811
    clock: Clock,
    pack: None,
    pv1: str,
    ended: datetime,
) -> None:
    from hl7.client import MLLPClient

    from tests.test_mllp import msa

    with MLLPClient("127.0.0.1", mllp.port, encoding="utf-8") as client:
        assert msa(hl7_parse(client.send_message(_a03("A03-PARTIAL", pv1)))) == "AA"
    process_all()
    encounter = Encounter.objects.get()
    assert encounter.status == "finished" and encounter.ended_at == ended
    assert encounter.started_at <= encounter.ended_at
    assert Plan.objects.filter(pathway__code="discharge-heart").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_discharge_before_its_admission_is_refused(
    mllp: MllpServer,  # noqa: F811
    clock: Clock,
    pack: None,
) -> None:
    from hl7.client import MLLPClient

    from careloop.interop.models import InboundMessage
    from tests.test_mllp import msa

    backwards = (
        "PV1|1|I|心内科^0301^05||||D001^张^医生|||CARD|||||||||ZY20261101001|||||||||||||||||||||||||"
        "20261101083000|20261031150000"
    )
    with MLLPClient("127.0.0.1", mllp.port, encoding="utf-8") as client:
        reply = hl7_parse(client.send_message(_a03("A03-BACK", backwards)))
    assert msa(reply) == "AE" and "PV1-45" in str(reply.segment("ERR"))
    assert not Encounter.objects.exists() and not Plan.objects.exists()
    assert InboundMessage.objects.get().status == "rejected"  # stored, never imported


def _with_field(segment: str, number: int, value: str) -> str:
    fields = segment.split("|")
    fields += [""] * (number + 1 - len(fields))
    fields[number] = value
    return "|".join(fields)


@pytest.mark.django_db(transaction=True)
def test_a_discharge_by_death_over_hl7_records_it_and_enrols_nobody(
    mllp: MllpServer,  # noqa: F811
    clock: Clock,
    pack: None,
) -> None:
    """PV1-36 离院方式 5 (死亡, the national front sheet's code): the death recorded on the day
    the stay ended, before the discharge would have put the patient on the heart pathway."""
    from hl7.client import MLLPClient

    from careloop.audit.models import AuditEvent
    from tests.test_mllp import fixture, msa

    pv1 = fixture("adt_a03_discharge.hl7").decode().split("\r")[3]
    with MLLPClient("127.0.0.1", mllp.port, encoding="utf-8") as client:
        reply = client.send_message(_a03("A03-DIED", _with_field(pv1, 36, "5")))
    assert msa(hl7_parse(reply)) == "AA"
    process_all()
    patient = Patient.objects.get()
    assert patient.deceased_on == DISCHARGED.date()
    assert not Plan.objects.filter(status=Plan.Status.ACTIVE).exists()
    death = AuditEvent.objects.get(summary="death reported by an inbound message")
    assert death.patient_id == patient.pk and death.actor_label == "hl7:DEMO-HIS"


@pytest.mark.django_db(transaction=True)
def test_a_death_reported_in_pid_stops_the_running_plans(
    mllp: MllpServer,  # noqa: F811
    clock: Clock,
    pack: None,
) -> None:
    """An ADT^A08 with PID-29 (date of death) and PID-30 "Y" for a patient on follow-up."""
    from hl7.client import MLLPClient

    from tests.test_mllp import fixture, msa

    assert msa(send(mllp, "adt_a03_discharge.hl7")) == "AA"
    process_all()
    patient = Patient.objects.get()
    assert Plan.objects.filter(patient=patient, status=Plan.Status.ACTIVE).count() == 2
    lines = fixture("adt_a03_discharge.hl7").decode().split("\r")
    lines[0] = (
        lines[0]
        .replace("ADT^A03^ADT_A03", "ADT^A08^ADT_A01")
        .replace("HIS-A03-0001", "HIS-A08-DIED")
    )
    lines[1] = "EVN|A08|20261110150000"
    lines[2] = _with_field(_with_field(lines[2], 29, "20261109"), 30, "Y")
    with MLLPClient("127.0.0.1", mllp.port, encoding="utf-8") as client:
        assert msa(hl7_parse(client.send_message("\r".join(lines[:4])))) == "AA"
    process_all()
    patient.refresh_from_db()
    assert patient.deceased_on == date(2026, 11, 9)
    stopped = Plan.objects.filter(patient=patient)
    assert {p.status for p in stopped} == {"stopped"} and {p.stop_reason for p in stopped} == {
        "deceased"
    }

    future = _with_field(lines[2], 29, "20991231")
    lines[0] = lines[0].replace("HIS-A08-DIED", "HIS-A08-LATER")
    with MLLPClient("127.0.0.1", mllp.port, encoding="utf-8") as client:
        reply = hl7_parse(client.send_message("\r".join([lines[0], lines[1], future, lines[3]])))
    assert msa(reply) == "AE" and "PID-29" in str(reply.segment("ERR"))


def test_an_enrolment_another_worker_made_meanwhile_is_taken_as_done(
    pack: None, clock: Clock, monkeypatch: Any
) -> None:
    """Two workers enrol one patient at once (two abnormal-result jobs for them, on two
    machines): the one that loses the race finds the patient on the pathway, instead of an
    IntegrityError that failed its job, and with it the enrolment of the job's other
    patients."""
    from careloop.followup import planning
    from tests.factories import PatientFactory

    pathway = Pathway.objects.get(code="exam-abnormal")
    raced, other = PatientFactory(name="甲"), PatientFactory(name="乙")
    winner = enrol(raced, pathway, trigger="abnormal", trigger_ref="observation:1")
    assert winner is not None
    # What this worker read before the other one committed: nobody on the pathway yet.
    monkeypatch.setattr(planning, "may_enrol", lambda *args, **kwargs: True)
    assert enrol(raced, pathway, trigger="abnormal", trigger_ref="observation:1") is None
    mine = enrol(other, pathway, trigger="abnormal", trigger_ref="observation:2")
    assert mine is not None and mine.tasks.exists()
    assert list(Plan.objects.filter(patient=raced)) == [winner]
    assert Plan.objects.filter(patient=other).count() == 1


def test_the_nightly_job_goes_on_when_a_discharge_enrolled_one_of_its_batch_meanwhile(
    pack: None, clock: Clock, monkeypatch: Any
) -> None:
    """The nightly job checks who is on the pathway, then inserts its batch; a discharge
    over HL7 (another process) enrolling one of them in between made the index refuse the
    whole batch, and the job failed there, the rest of the night's patients not enrolled.
    Now the batch is read and tried again."""
    from careloop.followup import bulk_enrol
    from tests.factories import PatientFactory

    patients = [PatientFactory(name=n, birth_date=date(1950, 1, 1)) for n in "甲乙丙"]
    for patient in patients:
        Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    pathway = Pathway.objects.get(code="htn-programme")
    insert = bulk_enrol.insert_returning_ids
    raced: list[int] = []

    def another_process_enrols_first(model: Any, fields: Any, rows: Any) -> Any:
        if not raced:  # between the batch's check and its insert
            raced.append(enrol(patients[0], pathway, trigger="manual").pk)  # type: ignore[union-attr]
        return insert(model, fields, rows)

    monkeypatch.setattr(bulk_enrol, "insert_returning_ids", another_process_enrols_first)
    assert bulk_enrol.enrol_eligible()["htn-programme"]["enrolled"] == 3
    assert raced and all(
        Plan.objects.filter(patient=p, pathway=pathway, status="active").count() == 1
        for p in patients
    )


def test_a_tier_change_does_not_plan_again_a_follow_up_already_made_or_open(
    hospital: Any, bob: Any, patient_factory: Any, clock: Clock, pack: None
) -> None:
    patient = patient_factory(organisation=hospital, risk_tier="high", value_tier="medium")
    stay = Encounter.objects.create(
        patient=patient,
        organisation=hospital,
        kind=Encounter.Kind.INPATIENT,
        started_at=DISCHARGED - timedelta(days=5),
        ended_at=DISCHARGED,
    )
    Condition.objects.create(patient=patient, icd10_code="K35.8", name="急性阑尾炎", encounter=stay)
    [plan] = on_discharge([patient.pk])
    tiered = plan.tasks.filter(node="tiered").order_by("due_at")
    assert [(timezone.localtime(t.due_at).date() - DISCHARGED.date()).days for t in tiered] == [
        7,
        14,
    ]  # high risk + medium value: weekly for 2 weeks
    # The day-14 call is made; the next morning the risk falls to medium: every 2 weeks for 2
    # weeks is the day-14 call, made already, so nothing is planned again.
    clock.set(DISCHARGED.replace(hour=10) + timedelta(days=14))
    day7, day14 = tiered
    for task in (day7, day14):
        do_record_attempt(task, bob, Attempt(outcome="reached", channel=task.channel))
    clock.set(DISCHARGED.replace(hour=10) + timedelta(days=15))
    do_update_patient(bob, patient, {"risk_tier": "medium"})
    assert plan.tasks.filter(node="tiered", status=Task.Status.OPEN).count() == 0
    # A day-7 call still open (not reached yet) when the risk falls to low: the low-risk
    # "once within a month" is that call, not a second one beside it.
    other = patient_factory(organisation=hospital, risk_tier="high", value_tier="medium")
    stay = Encounter.objects.create(
        patient=other,
        organisation=hospital,
        kind=Encounter.Kind.INPATIENT,
        started_at=clock.now - timedelta(days=5),
        ended_at=clock.now - timedelta(hours=2),
    )
    Condition.objects.create(patient=other, icd10_code="K35.8", name="急性阑尾炎", encounter=stay)
    [plan] = on_discharge([other.pk])
    clock.set(clock.now + timedelta(days=8))
    Patient.objects.filter(pk=other.pk).update(value_tier="low")
    do_update_patient(bob, other, {"risk_tier": "low"})
    assert plan.tasks.filter(node="tiered", status=Task.Status.OPEN).count() == 1


def test_a_programme_visit_is_face_to_face_whatever_channel_the_patient_prefers(
    hospital: Any, patient_factory: Any, carol: Any, clock: Clock, pack: None
) -> None:
    """REFERENCE §1.1, §1.2: at least four face-to-face follow-ups a year. A patient who
    prefers the telephone had every programme visit planned as a call (none face to face);
    the visit is planned in the clinic, and the policy's other channels follow it when three
    tries there fail."""
    patient = patient_factory(
        organisation=hospital, birth_date=date(1960, 5, 1), preferred_channel="phone"
    )
    Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    [plan] = on_diagnosis([patient.pk])
    first = plan.tasks.get()
    assert first.channel == "clinic"
    clock.set(first.due_at + timedelta(hours=1))
    form = {"sbp": 128, "dbp": 80, "symptoms": ["无症状"], "heart_rate": 76, "weight_kg": 70}
    do_record_attempt(first, carol, Attempt(outcome="reached", answers=form, channel="clinic"))
    assert plan.tasks.get(status=Task.Status.OPEN).channel == "clinic"
    # A patient who prefers a home visit has it: it is face to face.
    home = patient_factory(
        organisation=hospital, birth_date=date(1950, 5, 1), preferred_channel="home_visit"
    )
    Condition.objects.create(patient=home, icd10_code="E11.9", name="2型糖尿病")
    [plan] = on_diagnosis([home.pk])
    assert plan.tasks.get().channel == "home_visit"


def test_a_patient_whose_only_number_is_a_landline_is_never_planned_on_sms(
    hospital: Any, patient_factory: Any, alice: Any, clock: Clock, pack: None
) -> None:
    """A landline takes no SMS: the channel choice passes over it, whether a plan is made
    one patient at a time or in a batch (a discharge over HL7), and when a call goes
    unanswered."""
    from careloop.followup.bulk_enrol import enrol_batch

    pathway = Pathway.objects.get(code="post-op")
    mobile = patient_factory(organisation=hospital, preferred_channel="sms")
    landline = patient_factory(organisation=hospital, preferred_channel="sms", phone="010-62345678")
    assert landline.phone_kind == "landline"
    texted = enrol(mobile, pathway, trigger="manual")
    called = enrol(landline, pathway, trigger="manual")
    assert texted is not None and called is not None
    assert texted.tasks.get(node="stitches").channel == "sms"
    task = called.tasks.get(node="stitches")
    assert (task.channel, task.channels) == ("phone", ["phone", "sms"])
    for _ in range(3):
        clock.set(task.due_at + timedelta(minutes=5))
        do_record_attempt(task, alice, Attempt(outcome="no_answer"))
        task.refresh_from_db()
    assert task.status == Task.Status.FAILED  # not passed on to an SMS it cannot get
    Plan.objects.all().delete()
    batch = patient_factory(organisation=hospital, preferred_channel="sms", phone="0755-12345678")
    enrol_batch(pathway, [(batch.pk, "", "")], trigger="manual", now=clock.now)
    assert Task.objects.get(patient=batch, node="stitches").channel == "phone"

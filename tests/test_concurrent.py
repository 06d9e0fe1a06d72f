"""Two people (or two clicks) doing the same thing at the same moment, on PostgreSQL where
requests really run side by side: one effect, and the other told what happened."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from careloop.followup.handoffs import do_refer
from careloop.followup.models import Referral
from careloop.patients.models import PatientShare

# Collected in the PostgreSQL run only (tests/conftest.py): on SQLite the write gate lets one
# writer in at a time, so there is no "at the same moment" to test.
pytestmark = [pytest.mark.django_db(transaction=True)]
MEET = 3.0  # seconds two requests wait for each other where a fix holds one back


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call on a connection of its own at once; what each returned or raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as exc:  # the result to assert on
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def meeting(count: int) -> Callable[[], None]:
    """A point both requests reach before either goes on; one held back by a lock (the fix)
    does not arrive, and the other goes on after ``MEET`` seconds."""
    barrier = threading.Barrier(count)

    def meet() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=MEET)

    return meet


def test_a_referral_sent_twice_at_once_waits_once(
    hospital: Any, community: Any, alice: Any, bob: Any, patient_factory: Any, monkeypatch: Any
) -> None:
    """Given a patient, when two nurses refer them to the community centre at the same
    moment, then one referral waits (the share made once) and the other is told who sent
    it."""
    patient = patient_factory(organisation=hospital)
    meet = meeting(2)
    share = PatientShare.objects.get_or_create

    def shared_after_meeting(*args: Any, **kwargs: Any) -> Any:
        meet()  # both have looked for a waiting referral: neither has made one yet
        return share(*args, **kwargs)

    monkeypatch.setattr(PatientShare.objects, "get_or_create", shared_after_meeting)
    results = together(
        *(
            (lambda who=who: do_refer(who, patient, community, reason="转社区"))
            for who in (alice, bob)
        )
    )
    assert Referral.objects.filter(patient=patient, status="pending").count() == 1
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 1, results
    assert "already waiting" in str(refused[0]) or "已有" in str(refused[0])


def test_a_redemption_approved_by_two_at_once_spends_the_points_once(
    hospital: Any, bob: Any, patient_factory: Any
) -> None:
    """Given a request for 30 points, when two staff approve it at the same moment, then the
    points are spent once and the second is told it was decided."""
    from careloop.accounts.roles import Role
    from careloop.portal import points
    from careloop.portal.models import PointsEntry
    from tests.factories import UserFactory

    patient = patient_factory(organisation=hospital)
    PointsEntry.objects.create(patient=patient, points=100, reason="完成问卷")
    asked = points.request(patient, "血压计袖带")
    other = UserFactory(organisation=hospital, role=Role.SUPERVISOR)
    results = together(
        *((lambda who=who: points.decide(who, asked, approve=True)) for who in (bob, other))
    )
    assert points.balance(patient) == 70
    assert sum(isinstance(r, ValidationError) for r in results) == 1, results


def test_an_exchange_tapped_twice_at_once_holds_the_points_once(
    hospital: Any, patient_factory: Any
) -> None:
    """Given a page showing no request yet, when two taps on "exchange" arrive together,
    then one request holds the points."""
    from careloop.portal import points
    from careloop.portal.models import PointsEntry, Redemption

    patient = patient_factory(organisation=hospital)
    PointsEntry.objects.create(patient=patient, points=100, reason="完成问卷")
    seen = points.latest(patient)
    results = together(*(lambda: points.request(patient, "血压计袖带", seen=seen),) * 2)
    assert Redemption.objects.filter(patient=patient).count() == 1
    assert results[0].pk == results[1].pk


def test_an_outcome_recorded_by_two_at_once_is_recorded_once(
    hospital: Any, alice: Any, bob: Any, patient_factory: Any
) -> None:
    """Given a task both nurses opened, when both save "no answer" at the same moment, then
    one attempt is recorded and the other is told who recorded it."""
    from careloop.followup.models import FollowUpRecord
    from careloop.followup.outcomes import Attempt, do_record_attempt, latest_record
    from tests.test_rules_events import open_task

    task = open_task(patient_factory(organisation=hospital))
    seen = latest_record(task)
    results = together(
        *(
            (lambda who=who: do_record_attempt(task, who, Attempt("no_answer", seen=seen)))
            for who in (alice, bob)
        )
    )
    assert FollowUpRecord.objects.filter(task=task).count() == 1
    task.refresh_from_db()
    assert task.attempts == 1
    [refused] = [r for r in results if isinstance(r, ValidationError)]
    assert "conflict" in {e.code for e in refused.error_list}


def test_an_alert_acknowledged_by_two_at_once_moves_once(
    hospital: Any, alice: Any, bob: Any, patient_factory: Any
) -> None:
    from careloop.followup.alert_flow import AlertConflict, Step, do_transition
    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert

    alert = raise_alert(
        patient_factory(organisation=hospital),
        kind=Alert.Kind.RULE,
        severity=Alert.Severity.HIGH,
        title="收缩压 182",
        reason="收缩压≥180 mmHg",
    )
    results = together(
        *((lambda who=who: do_transition(alert, who, Step("acknowledge"))) for who in (alice, bob))
    )
    assert alert.events.filter(action="acknowledge").count() == 1
    assert sum(isinstance(r, AlertConflict) for r in results) == 1, results


def test_a_questionnaire_sent_twice_at_once_is_answered_once(
    hospital: Any, patient_factory: Any
) -> None:
    """Two taps on "submit" at once, on a link for a follow-up: one answer, the task closed
    once, both pages thanked (no error)."""
    from django.test import Client

    from careloop.followup.models import FollowUpRecord
    from careloop.portal.links import make_token
    from careloop.questionnaires.models import QuestionnaireResponse
    from careloop.questionnaires.services import load_pack
    from tests.portal.test_pages import BORN
    from tests.portal.test_twice import hidden
    from tests.test_rules_events import open_task

    load_pack()
    patient = patient_factory(organisation=hospital)
    task = open_task(patient)
    token = make_token(patient.pk, "questionnaire", questionnaire="phq9", task_id=task.pk)
    client = Client()
    client.post(f"/p/{token}/check/", {"answer": BORN.isoformat()})
    page = client.get(f"/p/{token}/q/phq9/").content.decode()
    form = {**{f"q{n}": "0" for n in range(1, 10)}, "seen": hidden(page, "seen")}
    other = Client()
    other.cookies = client.cookies  # the same phone's session
    results = together(
        *((lambda c=c: c.post(f"/p/{token}/q/phq9/", form)) for c in (client, other))
    )
    assert [r.status_code for r in results] == [200, 200], results
    assert all('data-testid="thanks"' in r.content.decode() for r in results)
    assert QuestionnaireResponse.objects.filter(patient=patient).count() == 1
    assert FollowUpRecord.objects.filter(task=task).count() == 1


def wait_for_a_waiter(timeout: float = 10.0) -> None:
    """Until another transaction waits for a lock (the other request has got as far as it
    can while this one holds what it needs)."""
    import time

    end = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < end:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)


def test_a_plan_stopped_while_a_nurse_records_its_task_leaves_nothing_open(
    hospital: Any, alice: Any, bob: Any, patient_factory: Any, monkeypatch: Any
) -> None:
    """Given a nurse saving a follow-up whose plan plans the next one, when a supervisor
    stops the plan at that moment (the patient asks to stop), then no follow-up of the
    stopped plan is left open for someone to call."""
    from careloop.followup.models import Pathway, Plan, Task
    from careloop.followup.outcomes import Attempt, do_record_attempt
    from careloop.followup.pathways import load_pack
    from careloop.followup.planning import enrol, stop_plan

    load_pack()
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="htn-programme"), trigger="manual")
    [task] = plan.tasks.all()
    planned = threading.Event()
    create = Task.objects.bulk_create

    def planned_then_held(*args: Any, **kwargs: Any) -> Any:
        made = create(*args, **kwargs)
        if made and not planned.is_set():  # the next visit, not committed yet
            planned.set()  # the supervisor stops the plan now
            wait_for_a_waiter()  # they wait for the task the nurse holds
        return made

    monkeypatch.setattr(Task.objects, "bulk_create", planned_then_held)

    def nurse() -> Any:
        return do_record_attempt(task, alice, Attempt("refused"))

    def supervisor() -> Any:
        planned.wait(timeout=10)
        return stop_plan(Plan.objects.get(pk=plan.pk), Plan.StopReason.OPTED_OUT, bob)

    results = together(nurse, supervisor)
    assert not any(isinstance(r, Exception) for r in results), results
    plan.refresh_from_db()
    assert plan.status == "stopped"
    assert not plan.tasks.filter(status="open").exists()


def test_a_plan_stopped_while_the_nightly_job_plans_it_keeps_nothing_planned(
    hospital: Any, bob: Any, patient_factory: Any, monkeypatch: Any
) -> None:
    """Given the nightly job planning a plan's next follow-up, when a supervisor stops the
    plan and commits first, then what the job planned is not kept (nor the plan marked
    completed)."""
    from careloop.followup.models import Pathway, Plan, Task
    from careloop.followup.pathways import load_pack
    from careloop.followup.planning import enrol, generate, stop_plan

    load_pack()
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="htn-programme"), trigger="manual")
    Task.objects.filter(plan=plan).delete()  # to be planned again by the job
    Plan.objects.filter(pk=plan.pk).update(state={})
    planned, stopped = threading.Event(), threading.Event()
    create = Task.objects.bulk_create

    def planned_then_held(*args: Any, **kwargs: Any) -> Any:
        made = create(*args, **kwargs)
        if made:
            planned.set()
            stopped.wait(timeout=10)  # the supervisor's stop commits first
        return made

    monkeypatch.setattr(Task.objects, "bulk_create", planned_then_held)

    def job() -> Any:
        from django.db import transaction

        with transaction.atomic():
            return generate(Plan.objects.get(pk=plan.pk), patient)

    def supervisor() -> Any:
        planned.wait(timeout=10)
        try:
            return stop_plan(Plan.objects.get(pk=plan.pk), Plan.StopReason.OPTED_OUT, bob)
        finally:
            stopped.set()

    results = together(job, supervisor)
    assert planned.is_set() and results[0] == [], results
    plan.refresh_from_db()
    assert (plan.status, plan.stop_reason) == ("stopped", "opted_out")
    assert not plan.tasks.exists()


def _admission(control_id: str, pid: str) -> bytes:
    return "\r".join(
        [
            "MSH|^~\\&|HIS|DEMO-HIS|CARELOOP|CARELOOP|20261206080000||ADT^A01^ADT_A01|"
            f"{control_id}|P|2.5.1|||AL|NE|CHN|UNICODE UTF-8",
            "EVN|A01|20261206080000",
            pid,
            f"PV1|1|I|心内科||||||||||||||||V{control_id}",
        ]
    ).encode()


def test_one_new_patient_in_two_messages_at_once_is_registered_once(
    hospital: Any, monkeypatch: Any
) -> None:
    """Given two messages about one person nobody knows yet — the registration desk's naming
    them by ID number and record number, the ward's by the record number alone — taken by
    two processors at once (their shards differ), when the desk's is committed after the
    ward's looked for the patient, then the ward's finds that patient: one patient, both
    messages imported (the ward's used to enrol a second patient with no identifier)."""
    from careloop.interop import processing
    from careloop.interop.models import InboundMessage, SourceSystem
    from careloop.patients.models import Patient

    source = SourceSystem.objects.create(facility="DEMO-HIS", name="HIS", organisation=hospital)
    name = "PID|1||ZY0042^^^DEMO-H1^MR{}||李^国强||19481102|M"
    desk, ward = (
        InboundMessage.objects.create(
            raw=_admission(control, name.format(extra)),
            sending_facility="DEMO-HIS",
            control_id=control,
            source=source,
            message_type="ADT^A01",
        )
        for control, extra in (("DESK1", "~510104194811020152^^^^NI"), ("WARD1", ""))
    )
    desk_done = threading.Event()
    match = processing.match_patient

    def ward_looks_before_the_desk_commits(data: Any, facility: str) -> Any:
        found = match(data, facility)
        if found is None and not data.id_number:  # the ward's, the first time it looks
            desk_done.wait(timeout=10)
        return found

    monkeypatch.setattr(processing, "match_patient", ward_looks_before_the_desk_commits)

    def desk_processor() -> Any:
        try:
            return processing.process_batch([desk.pk])
        finally:
            desk_done.set()

    results = together(desk_processor, lambda: processing.process_batch([ward.pk]))
    assert [r.processed for r in results] == [1, 1], results
    patient = Patient.objects.get()
    assert patient.identifiers.count() == 1
    assert set(InboundMessage.objects.values_list("status", "patient")) == {
        ("processed", patient.pk)
    }


def test_two_rule_sweeps_at_once_fire_a_rule_once(hospital: Any, monkeypatch: Any) -> None:
    """Given a patient the hourly sweep finds without a glucose reading for three days, when
    two sweeps run at once (an operator's `careloop rules sweep` beside the scheduled one, or
    two sweep jobs that waited behind a long import, one per worker), then the rule fires
    once: one alert, not two (nor two of its messages and tasks)."""
    from datetime import timedelta

    from django.utils import timezone

    from careloop.followup.models import Alert
    from careloop.rules import engine
    from careloop.rules.models import RuleFiring
    from careloop.rules.pack import load_pack
    from careloop.rules.services import do_tag_patient
    from careloop.rules.tasks import sweep_rules
    from tests.factories import PatientFactory
    from tests.test_rules import GLU, store

    load_pack()
    quiet = PatientFactory(organisation=hospital)
    store(quiet, GLU, 6.1, timezone.now() - timedelta(days=4))
    do_tag_patient(None, quiet, "血糖监测")
    meet, matches = meeting(2), engine.sweep_matches

    def matched_then_met(**kwargs: Any) -> Any:
        found = matches(**kwargs)
        meet()  # both sweeps have read who matches before either fires
        return found

    monkeypatch.setattr(engine, "sweep_matches", matched_then_met)
    results = together(sweep_rules.call, lambda: engine.sweep())
    assert sorted(results) == [0, 1], results
    assert RuleFiring.objects.filter(patient=quiet).count() == 1
    assert Alert.objects.filter(patient=quiet, kind=Alert.Kind.RULE).count() == 1


def test_a_job_left_running_by_a_killed_worker_is_run_again(hospital: Any) -> None:
    """Given two workers each running a job — enrolling the patients of an abnormal result,
    queued once with the results — when one is killed mid-job (after ``careloop serve``'s
    grace time, or out of memory), then the scheduler's next turn queues its job again and a
    worker runs it; the live worker's job is left to it. It stayed "running" for ever."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from careloop.followup.tasks import enrol_abnormal
    from careloop.orphans import WorkerLock
    from careloop.scheduler import periodic_jobs

    alive = WorkerLock("the-live-worker")
    assert alive.acquire()
    try:
        killed, running = (enrol_abnormal.enqueue([]).id for _ in range(2))
        for pk, worker in ((killed, "the-killed-worker"), (running, "the-live-worker")):
            DBTaskResult.objects.filter(pk=pk).update(status="RUNNING", worker_ids=[worker])
        [job] = [job for job in periodic_jobs() if job.name == "requeue_orphans"]
        job.enqueue()
        assert {str(pk): s for pk, s in DBTaskResult.objects.values_list("pk", "status")} == {
            killed: "READY",
            running: "RUNNING",
        }
        call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
        assert DBTaskResult.objects.get(pk=killed).status == "SUCCESSFUL"
        assert DBTaskResult.objects.get(pk=running).status == "RUNNING"
    finally:
        alive.release()


def test_a_machine_waiting_to_migrate_does_not_deadlock_the_one_migrating(
    hospital: Any,
) -> None:
    """Given two machines started together, one migrating (holding the migrations' lock) and
    the other waiting for it, when a migration builds an index CONCURRENTLY (which waits for
    every transaction open when it starts), then it does not wait for the other machine:
    that one waited inside a statement, PostgreSQL found a deadlock, and the migrating
    machine's `careloop serve` stopped half-way through the migrations."""
    import time

    from django.core.management import call_command
    from django.db import connections

    from careloop.management.commands.migrate import MIGRATE_KEY
    from careloop.scheduler import LOCK_NAMESPACE

    migrating = connections.create_connection("default")
    with migrating.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, MIGRATE_KEY])
    waited: list[Any] = []

    def other_machine() -> None:
        try:
            call_command("migrate", verbosity=0)
            waited.append("migrated")
        except Exception as exc:
            waited.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_machine)
    thread.start()
    try:
        time.sleep(1.0)  # the other machine waits for the lock
        assert not waited
        with migrating.cursor() as cursor:
            cursor.execute(
                "CREATE INDEX CONCURRENTLY test_waiting_machine ON accounts_organisation (name)"
            )
            cursor.execute("DROP INDEX test_waiting_machine")
    finally:
        migrating.close()  # lets go of the lock
        thread.join(timeout=120)
    assert waited == ["migrated"]

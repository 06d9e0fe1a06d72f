"""The scheduler enqueues due periodic jobs; the worker runs them."""

from datetime import timedelta
from typing import Any

from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from careloop.analytics.models import RollupState
from careloop.scheduler import PeriodicJob, Scheduler, periodic_jobs


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jobs_run_when_due_and_then_every_interval() -> None:
    clock, ran = FakeClock(), []
    job = PeriodicJob("tick", timedelta(minutes=10), lambda: ran.append(clock.now))
    scheduler = Scheduler([job], clock=clock, first_run_after=60)
    assert scheduler.run_due() == []
    clock.now += 60
    assert scheduler.run_due() == ["tick"]
    clock.now += 599
    assert scheduler.run_due() == []
    clock.now += 1
    assert scheduler.run_due() == ["tick"]
    assert len(ran) == 2


def test_a_failing_job_does_not_stop_the_others() -> None:
    clock, ran = FakeClock(), []

    def boom() -> None:
        raise RuntimeError("queue down")

    jobs = [
        PeriodicJob("bad", timedelta(hours=1), boom),
        PeriodicJob("good", timedelta(hours=1), lambda: ran.append(1)),
    ]
    scheduler = Scheduler(jobs, clock=clock, first_run_after=0)
    assert scheduler.run_due() == ["good"]
    assert ran == [1]


def test_housekeeping_jobs_are_enqueued_and_run_by_the_worker(
    transactional_db: None, client: Any
) -> None:
    Session.objects.create(
        session_key="old", session_data="x", expire_date=timezone.now() - timedelta(days=1)
    )
    clock = FakeClock()
    scheduler = Scheduler(periodic_jobs(), clock=clock, first_run_after=0)
    assert set(scheduler.run_due()) == {
        "clear_expired_sessions",
        "dispatch_messages",
        "enrol_eligible",
        "extend_plans",
        "prune_finished_jobs",
        "prune_login_logs",
        "reassess_birthdays",
        "refresh_dashboard",
        "stage_summaries",
        "sweep_alerts",
        "sweep_rules",
        "value_tiers",
    }
    assert DBTaskResult.objects.count() == 12
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert not Session.objects.filter(session_key="old").exists()
    assert RollupState.objects.get().built_at is not None  # the dashboard's counts were built

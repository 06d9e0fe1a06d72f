"""The scheduler enqueues due periodic jobs; the worker runs them."""

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from careloop.analytics.models import RollupState
from careloop.scheduler import (
    STANDBY_RETRY,
    PeriodicJob,
    Scheduler,
    SchedulerLock,
    last_enqueued,
    periodic_jobs,
)


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
        "deliver_webhooks",
        "dispatch_messages",
        "enrol_eligible",
        "extend_plans",
        "lost_risk",
        "prune_finished_jobs",
        "prune_login_logs",
        "reassess_birthdays",
        "refresh_dashboard",
        "requeue_orphans",
        "stage_summaries",
        "sweep_alerts",
        "sweep_rules",
        "value_tiers",
    }
    assert DBTaskResult.objects.count() == 14
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert not Session.objects.filter(session_key="old").exists()
    assert RollupState.objects.get().built_at is not None  # the dashboard's counts were built


def test_a_restarted_scheduler_counts_from_when_each_job_last_ran(db: None) -> None:
    """A restart (or an upgrade, or a takeover) does not run the daily jobs again: each job's
    next turn counts from when it was last enqueued; one that never ran, or ran a day ago,
    runs once the start-up delay has passed."""
    jobs = {job.name: job for job in periodic_jobs()}
    jobs["stage_summaries"].enqueue()  # an hour ago, by the scheduler before the restart
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))
    jobs["value_tiers"].enqueue()  # 25 hours ago: due
    DBTaskResult.objects.filter(task_path__endswith="update_value_tiers").update(
        enqueued_at=timezone.now() - timedelta(hours=25)
    )
    clock = FakeClock()
    scheduler = Scheduler(
        list(jobs.values()), clock=clock, first_run_after=60, history=last_enqueued
    )
    clock.now += 61
    ran = scheduler.run_due()
    assert "value_tiers" in ran and "sweep_alerts" in ran and "stage_summaries" not in ran
    clock.now += 23 * 3600 - 61 - 60  # a minute before a day after its last run
    assert "stage_summaries" not in scheduler.run_due()
    clock.now += 61
    assert "stage_summaries" in scheduler.run_due()

    # Without the queue's records (the database away) every job runs after the delay.
    def away(paths: list[str]) -> dict[str, Any]:
        raise RuntimeError("no database")

    blind = Scheduler(list(jobs.values()), clock=clock, first_run_after=60, history=away)
    clock.now += 61
    assert "stage_summaries" in blind.run_due()


def test_of_two_schedulers_on_one_database_one_enqueues_and_the_other_takes_over(
    db: None, tmp_path: Path
) -> None:
    # Two `careloop serve` machines against one database: each job once per period, not
    # once per machine; when the machine that enqueues stops, the other takes over.
    sqlite = None if connection.vendor == "postgresql" else str(tmp_path / "careloop.db")
    clock, ran = FakeClock(), []

    def schedulers_job(name: str) -> list[PeriodicJob]:
        return [PeriodicJob("tick", timedelta(minutes=1), lambda: ran.append(name))]

    first = Scheduler(
        schedulers_job("first"), clock=clock, first_run_after=0, lock=SchedulerLock(sqlite)
    )
    second = Scheduler(
        schedulers_job("second"), clock=clock, first_run_after=0, lock=SchedulerLock(sqlite)
    )
    try:
        for _ in range(3):
            first.turn()
            second.turn()
            clock.now += 60
        assert ran == ["first"] * 3
        assert second.turn() == []
        first.lock.release()  # type: ignore[union-attr]  # the first machine stops
        assert second.turn() == []  # standing by, it tries again only so often
        clock.now += STANDBY_RETRY
        assert second.turn() == ["tick"]
        assert first.turn() == []  # back again: now the other one enqueues
        clock.now += 60
        first.turn()
        second.turn()
        assert ran == ["first"] * 3 + ["second"] * 2
    finally:
        first.lock.release()  # type: ignore[union-attr]
        second.lock.release()  # type: ignore[union-attr]


def test_machines_started_together_migrate_one_after_the_other(transactional_db: None) -> None:
    # `careloop serve` migrates at its start: two machines started at once must not apply
    # the same migration side by side (the second failed, "relation … already exists").
    from careloop.management.commands.migrate import MIGRATE_KEY
    from careloop.scheduler import LOCK_NAMESPACE

    done: list[str] = []

    def migrate() -> None:
        try:
            call_command("migrate", verbosity=0)
            done.append("migrated")
        finally:
            connection.close()  # this thread's own

    if connection.vendor == "postgresql":
        other = connections.create_connection("default")  # the first machine, migrating
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, MIGRATE_KEY])
        second = threading.Thread(target=migrate)
        second.start()
        time.sleep(1.5)  # it tries the lock now and then (tests/test_concurrent.py: why)
        assert second.is_alive() and done == []  # it waits for the first one to finish
        other.close()
    else:  # SQLite: one machine
        second = threading.Thread(target=migrate)
        second.start()
    second.join(60)
    assert done == ["migrated"]


def test_housekeeping_jobs_print_nothing_to_the_console(db: None, capsys: Any) -> None:
    """The worker's console is the operator's log: a daily job's "No logs found." is noise."""
    from careloop import tasks

    tasks.prune_login_logs.call()
    tasks.prune_finished_jobs.call()
    assert capsys.readouterr().out == ""

"""The scheduler: enqueues periodic jobs for the task worker.

It holds no state: a job that is due is enqueued, and the worker runs it. Follow-up work
with due times lives in the database as rows with ``due_at`` (claimed by their own sweeps),
never in this process's memory.

One scheduler per database enqueues: a city runs ``careloop serve`` on several machines
against one PostgreSQL, each with its own scheduler, and without this every job would run
once per machine (a daily job twice a day, the every-minute ones side by side). The
scheduler that holds the cluster's scheduler lock (``SchedulerLock``: a session advisory
lock on PostgreSQL, an ``flock`` beside the database file on SQLite) enqueues; the others
stand by and try again every ``STANDBY_RETRY`` seconds, so when the machine holding it stops
(its connection closes, and PostgreSQL lets go of the lock), another takes over within that.
Periodic jobs are still written to be safe when run twice or side by side: a slow job may
still run when its next turn is enqueued.

A scheduler starting (or taking over) counts each job's next turn from when it was last
enqueued, read from the task queue's own records (``last_enqueued``): a restart, a takeover or
an upgrade does not run the daily jobs again (on a large database the quarter's stage
summaries alone take many minutes). A job never enqueued, or whose record is gone, runs once
the start-up delay has passed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

logger = logging.getLogger("careloop.scheduler")

# The scheduler's advisory lock (two int4 keys): a namespace of its own ("CS"), apart from
# the patient locks' ("CL", careloop.interop.patient_locks), whose keys are patient ids.
LOCK_NAMESPACE = 0x4353
LOCK_KEY = 1
STANDBY_RETRY = 10.0  # seconds between a standing-by scheduler's tries to take over


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    enqueue: Callable[[], Any]

    @property
    def task_path(self) -> str:
        """The background task's path in the queue's records ("" for a plain callable)."""
        return str(getattr(getattr(self.enqueue, "__self__", None), "module_path", ""))


def last_enqueued(paths: list[str]) -> dict[str, datetime]:
    """When each of these tasks was last enqueued (the queue keeps 14 days of records)."""
    from django.db.models import Max
    from django_tasks_db.models import DBTaskResult

    rows = (
        DBTaskResult.objects.filter(task_path__in=paths)
        .values("task_path")
        .annotate(last=Max("enqueued_at"))
        .order_by()
    )
    return {row["task_path"]: row["last"] for row in rows}


def periodic_jobs() -> list[PeriodicJob]:
    from careloop import tasks
    from careloop.analytics.tasks import refresh_dashboard
    from careloop.care.tasks import draft_stage_summaries
    from careloop.followup.tasks import (
        enrol_eligible,
        extend_plans,
        lost_risk_daily,
        sweep_alerts,
    )
    from careloop.interop.tasks import deliver_webhooks
    from careloop.orphans import requeue_orphans
    from careloop.outreach.tasks import dispatch_messages
    from careloop.patients.tasks import update_value_tiers
    from careloop.rules.tasks import reassess_birthdays, sweep_rules

    return [
        PeriodicJob("sweep_rules", timedelta(hours=1), sweep_rules.enqueue),
        PeriodicJob("reassess_birthdays", timedelta(hours=24), reassess_birthdays.enqueue),
        PeriodicJob("sweep_alerts", timedelta(minutes=1), sweep_alerts.enqueue),
        PeriodicJob("dispatch_messages", timedelta(minutes=1), dispatch_messages.enqueue),
        PeriodicJob("deliver_webhooks", timedelta(minutes=1), deliver_webhooks.enqueue),
        PeriodicJob("enrol_eligible", timedelta(hours=24), enrol_eligible.enqueue),
        PeriodicJob("refresh_dashboard", timedelta(minutes=1), refresh_dashboard.enqueue),
        PeriodicJob("lost_risk", timedelta(hours=24), lost_risk_daily.enqueue),
        PeriodicJob("value_tiers", timedelta(hours=24), update_value_tiers.enqueue),
        PeriodicJob("stage_summaries", timedelta(hours=24), draft_stage_summaries.enqueue),
        PeriodicJob("extend_plans", timedelta(hours=6), extend_plans.enqueue),
        PeriodicJob(
            "clear_expired_sessions", timedelta(hours=6), tasks.clear_expired_sessions.enqueue
        ),
        PeriodicJob("prune_finished_jobs", timedelta(hours=24), tasks.prune_finished_jobs.enqueue),
        PeriodicJob("prune_login_logs", timedelta(hours=24), tasks.prune_login_logs.enqueue),
        # Not a job for the workers: done here, a query or two (a stopped worker's jobs).
        PeriodicJob("requeue_orphans", timedelta(minutes=1), requeue_orphans),
    ]


class ClusterLock:
    """A lock one process of the whole deployment holds at a time, tried without waiting.

    PostgreSQL: a session advisory lock ``(namespace, key)`` on a connection of its own,
    held while that connection lives (a stopped or cut-off machine's is let go by the
    server). SQLite: an exclusive ``flock`` on ``<database>.<name>``, held while this process
    lives. An in-memory SQLite database lives in one process: nobody to share it with.

    ``sqlite_database``: the database file, when it is not Django's connection's (tests)."""

    def __init__(
        self, namespace: int, key: int, name: str, sqlite_database: str | None = None
    ) -> None:
        from django.db import connection

        from careloop.write_gate import sqlite_file

        self.namespace, self.key, self.name = namespace, key, name
        self.vendor = "sqlite" if sqlite_database else connection.vendor
        self._connection: Any = None
        self._fd: int | None = None
        database = None if self.vendor == "postgresql" else sqlite_file(sqlite_database)
        self._path = None if database is None else f"{database}.{name}"

    def acquire(self) -> bool:
        """Whether we hold the lock now: kept if held (and still alive), else tried once."""
        if self.vendor == "postgresql":
            return self._acquire_postgresql()
        if self._path is None:
            return True
        if self._fd is None:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another process on this machine holds it
                os.close(fd)
                return False
            self._fd = fd
        return True

    def _acquire_postgresql(self) -> bool:
        from django.db import connections

        if self._connection is not None:
            try:  # still ours? (a connection lost, even one opened again, lost the lock)
                with self._connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                        "pid = pg_backend_pid() AND classid = %s AND objid = %s AND "
                        "objsubid = 2 AND granted",
                        [self.namespace, self.key],
                    )
                    if cursor.fetchone()[0]:
                        return True
                logger.warning("%s lock lost", self.name)
            except Exception as exc:
                logger.warning(
                    "%s lock lost with its connection: %s", self.name, type(exc).__name__
                )
            self.release()
        connection = connections.create_connection("default")
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [self.namespace, self.key])
                taken = bool(cursor.fetchone()[0])
        except Exception as exc:
            logger.warning("could not try the %s lock: %s", self.name, type(exc).__name__)
            taken = False
        if taken:
            self._connection = connection
        else:
            connection.close()
        return taken

    def release(self) -> None:
        if self._connection is not None:
            # The session's advisory lock goes with it (already broken: nothing to let go of).
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor lets go of the flock
            self._fd = None


class SchedulerLock(ClusterLock):
    """The cluster's one scheduler lock."""

    def __init__(self, sqlite_database: str | None = None) -> None:
        super().__init__(LOCK_NAMESPACE, LOCK_KEY, "scheduler", sqlite_database)


class Scheduler:
    def __init__(
        self,
        jobs: list[PeriodicJob],
        *,
        clock: Callable[[], float] = time.monotonic,
        first_run_after: float = 60.0,
        lock: ClusterLock | None = None,
        history: Callable[[list[str]], dict[str, datetime]] | None = None,
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self.first_run_after = first_run_after
        self.lock = lock
        self.history = history  # last_enqueued, or None to run every job after the delay
        self.stop_event = threading.Event()
        self.leading = lock is None
        self.next_try = clock()
        self._restart_schedule()

    def _restart_schedule(self) -> None:
        start = self.clock()
        self.next_run = {job.name: start + self.first_run_after for job in self.jobs}
        if self.history is None:
            return
        from django.utils import timezone

        try:
            last = self.history([job.task_path for job in self.jobs if job.task_path])
        except Exception as exc:  # the database away: as if nothing had run
            logger.warning("could not read when the jobs last ran: %s", type(exc).__name__)
            return
        now = timezone.now()
        for job in self.jobs:
            if job.task_path in last:
                due_in = (last[job.task_path] + job.every - now).total_seconds()
                self.next_run[job.name] = start + max(self.first_run_after, due_in)

    def turn(self) -> list[str]:
        """One turn of the loop: if we hold the scheduler lock (taking it when free), enqueue
        every job that is due; standing by, try the lock every ``STANDBY_RETRY`` seconds."""
        if self.lock is None:
            return self.run_due()
        now = self.clock()
        if not self.leading and now < self.next_try:
            return []
        held = self.lock.acquire()
        if held and not self.leading:
            logger.info("scheduler holds the scheduler lock: this one enqueues periodic jobs")
            self._restart_schedule()  # as after a start: every job once the delay has passed
        elif not held and (self.leading or self.next_try == 0):
            logger.info(
                "another scheduler holds the scheduler lock and enqueues the periodic jobs; "
                "standing by"
            )
        self.leading = held
        if not held:
            self.next_try = now + STANDBY_RETRY
            return []
        return self.run_due()

    def run_due(self) -> list[str]:
        """Enqueue every job that is due; return their names."""
        now = self.clock()
        ran = []
        for job in self.jobs:
            if self.next_run[job.name] <= now:
                try:
                    job.enqueue()
                    ran.append(job.name)
                except Exception:  # a failing job must not stop the others
                    logger.exception("could not enqueue periodic job %s", job.name)
                self.next_run[job.name] = now + job.every.total_seconds()
        return ran

    def run_forever(self, tick: float = 1.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())
        logger.info("scheduler started with %d periodic jobs", len(self.jobs))
        self.next_try = 0  # the first turn says where we stand
        try:
            while not self.stop_event.is_set():
                self.turn()
                self.stop_event.wait(tick)
        finally:
            if self.lock is not None:
                self.lock.release()
        logger.info("scheduler stopped")

"""The scheduler: enqueues periodic jobs for the task worker.

It holds no state: a job that is due is enqueued, and the worker runs it. Periodic jobs are
idempotent, so a restart or a second scheduler costs at most a repeated run. Follow-up work
with due times lives in the database as rows with ``due_at`` (claimed by their own sweeps),
never in this process's memory.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

logger = logging.getLogger("careloop.scheduler")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    enqueue: Callable[[], Any]


def periodic_jobs() -> list[PeriodicJob]:
    from careloop import tasks
    from careloop.analytics.tasks import refresh_dashboard
    from careloop.care.tasks import draft_stage_summaries
    from careloop.followup.tasks import enrol_eligible, extend_plans, sweep_alerts
    from careloop.outreach.tasks import dispatch_messages
    from careloop.patients.tasks import update_value_tiers
    from careloop.rules.tasks import reassess_birthdays, sweep_rules

    return [
        PeriodicJob("sweep_rules", timedelta(hours=1), sweep_rules.enqueue),
        PeriodicJob("reassess_birthdays", timedelta(hours=24), reassess_birthdays.enqueue),
        PeriodicJob("sweep_alerts", timedelta(minutes=1), sweep_alerts.enqueue),
        PeriodicJob("dispatch_messages", timedelta(minutes=1), dispatch_messages.enqueue),
        PeriodicJob("enrol_eligible", timedelta(hours=24), enrol_eligible.enqueue),
        PeriodicJob("refresh_dashboard", timedelta(minutes=1), refresh_dashboard.enqueue),
        PeriodicJob("value_tiers", timedelta(hours=24), update_value_tiers.enqueue),
        PeriodicJob("stage_summaries", timedelta(hours=24), draft_stage_summaries.enqueue),
        PeriodicJob("extend_plans", timedelta(hours=6), extend_plans.enqueue),
        PeriodicJob(
            "clear_expired_sessions", timedelta(hours=6), tasks.clear_expired_sessions.enqueue
        ),
        PeriodicJob("prune_finished_jobs", timedelta(hours=24), tasks.prune_finished_jobs.enqueue),
        PeriodicJob("prune_login_logs", timedelta(hours=24), tasks.prune_login_logs.enqueue),
    ]


class Scheduler:
    def __init__(
        self,
        jobs: list[PeriodicJob],
        *,
        clock: Callable[[], float] = time.monotonic,
        first_run_after: float = 60.0,
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self.stop_event = threading.Event()
        start = clock()
        self.next_run = {job.name: start + first_run_after for job in jobs}

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
        while not self.stop_event.is_set():
            self.run_due()
            self.stop_event.wait(tick)
        logger.info("scheduler stopped")

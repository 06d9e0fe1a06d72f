"""Jobs a stopped worker left running are queued again (PostgreSQL).

The task queue (django-tasks' database backend) marks a job running when a worker claims it
and finished when it ends. A worker stopped without finishing it — killed after its grace
time by ``careloop serve`` or the process manager, out of memory, its machine gone — leaves it
marked running for ever: no worker takes it again. Periodic jobs come round again, but a
job enqueued once is lost, such as enrolling the patients of an abnormal result in their
pathway (``enrol_abnormal``, queued with the results).

So each ``careloop worker`` holds an advisory lock of its own, keyed by its worker id, while
it lives (on a connection of its own: a stopped or cut-off machine's is let go by the
server), and a job running under a worker whose lock is free is that of a stopped worker:
it is queued again, to run from the start. The jobs are written to be run again
(see each task). Looked for when a worker starts and every minute by the scheduler.
"""

from __future__ import annotations

import logging
import zlib

from django.db import connection, transaction

from careloop.scheduler import ClusterLock

logger = logging.getLogger("careloop.tasks")

WORKER_NAMESPACE = 0x4357  # "CW": the workers' advisory locks


def worker_key(worker_id: str) -> int:
    return zlib.crc32(worker_id.encode()) & 0x7FFFFFFF


class WorkerLock(ClusterLock):
    """Held by a live worker (PostgreSQL only: see ``requeue_orphans``)."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(WORKER_NAMESPACE, worker_key(worker_id), "worker")
        assert self.vendor == "postgresql"


def _alive(worker_ids: set[str]) -> set[str]:
    alive = set()
    with connection.cursor() as cursor:
        for worker_id in worker_ids:
            key = [WORKER_NAMESPACE, worker_key(worker_id)]
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            if cursor.fetchone()[0]:  # free: its worker has stopped
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            else:
                alive.add(worker_id)
    return alive


def requeue_orphans() -> int:
    """Queue again the jobs marked running under a worker that has stopped; how many."""
    if connection.vendor != "postgresql":  # SQLite: `careloop serve`'s one worker
        return 0
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    running = [
        (pk, ids[-1] if ids else "")
        for pk, ids in DBTaskResult.objects.running().values_list("pk", "worker_ids")
    ]
    if not running:
        return 0
    alive = _alive({worker for _, worker in running if worker})
    orphans = [pk for pk, worker in running if worker not in alive]
    if not orphans:
        return 0
    with transaction.atomic():
        queued = (
            DBTaskResult.objects.running()
            .filter(pk__in=orphans)
            .update(status=TaskResultStatus.READY, started_at=None)
        )
    if queued:
        logger.warning("%d jobs left running by a stopped worker queued again", queued)
    return queued

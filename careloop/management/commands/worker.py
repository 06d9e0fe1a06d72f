from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.crypto import get_random_string

from careloop import heap
from careloop.keycheck import verify_for_command
from careloop.orphans import WorkerLock, requeue_orphans


class Command(BaseCommand):
    help = "Run a task worker (django-tasks db_worker) on every queue."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="seconds between polls when the queue is empty",
        )

    def handle(self, *args, **options):
        verify_for_command()
        heap.long_running()
        worker_id = get_random_string(32)
        lock = None
        if connection.vendor == "postgresql":
            # Held while this worker lives: a job it leaves running when stopped is then
            # queued again by the next worker to start, or the scheduler (careloop.orphans).
            lock = WorkerLock(worker_id)
            if not lock.acquire():
                raise CommandError("could not take this worker's lock")
            requeue_orphans()
        try:
            call_command(
                "db_worker",
                queue_name="*",
                interval=options["interval"],
                reload=False,
                worker_id=worker_id,
                verbosity=options["verbosity"],
            )
        finally:
            if lock is not None:
                lock.release()

from django.core.management import call_command
from django.core.management.base import BaseCommand

from careloop import heap
from careloop.keycheck import verify_for_command


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
        call_command(
            "db_worker",
            queue_name="*",
            interval=options["interval"],
            reload=False,
            verbosity=options["verbosity"],
        )

from django.core.management.base import BaseCommand

from careloop.scheduler import Scheduler, periodic_jobs


class Command(BaseCommand):
    help = "Run the scheduler: enqueue periodic jobs for the task worker."

    def handle(self, *args, **options):
        Scheduler(periodic_jobs()).run_forever()

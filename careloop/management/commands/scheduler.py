from django.core.management.base import BaseCommand

from careloop.keycheck import verify_for_command
from careloop.scheduler import Scheduler, SchedulerLock, last_enqueued, periodic_jobs


class Command(BaseCommand):
    help = (
        "Run the scheduler: enqueue periodic jobs for the task worker. One scheduler per "
        "database enqueues (it holds the scheduler lock); others stand by to take over."
    )

    def handle(self, *args, **options):
        verify_for_command()
        Scheduler(periodic_jobs(), lock=SchedulerLock(), history=last_enqueued).run_forever()

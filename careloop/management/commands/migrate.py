"""`careloop migrate`: Django's migrate, one machine at a time.

`careloop serve` migrates when it starts, so the machines of a city deployment started
together (or restarted one after another during an upgrade) would each apply the same
migrations at once: the second fails ("relation … already exists") and its `serve` stops.
On PostgreSQL the command holds an advisory lock while it migrates: the next machine waits
for it (trying it every ``WAIT`` seconds, with no transaction open meanwhile), then finds
the migrations applied. (SQLite lives on one machine, in one process
group.)
"""

import time

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

from careloop.scheduler import LOCK_NAMESPACE

MIGRATE_KEY = 2  # beside the scheduler lock's key (careloop/scheduler.py)
WAIT = 0.5  # seconds between tries of the lock while another machine migrates


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " On PostgreSQL, one machine at a time (an advisory lock)."

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return super().handle(*args, **options)
        # Tried, not waited for inside a statement: a statement waiting is a transaction
        # open, which the other machine's CREATE INDEX CONCURRENTLY waits for in turn (a
        # deadlock, and that machine's migration fails half-way).
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, MIGRATE_KEY])
                if cursor.fetchone()[0]:
                    break
                time.sleep(WAIT)
        try:
            return super().handle(*args, **options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, MIGRATE_KEY])

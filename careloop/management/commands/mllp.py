import asyncio
import os
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from careloop.interop.mllp import serve_forever


class Command(BaseCommand):
    help = (
        "Run the HL7 v2 MLLP listener on CARELOOP_MLLP_ADDR, with processors that import "
        "what it stores."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--processors",
            type=int,
            default=None,
            help="processes importing stored messages (default: one on SQLite, one per CPU "
            "core up to 4 on PostgreSQL; 0: run them elsewhere with "
            "`careloop process_inbound`)",
        )

    def handle(self, *args, **options):
        host, port = settings.MLLP_ADDR
        count = options["processors"]
        if count is None:
            count = default_processors(connection.vendor)
        children = [
            subprocess.Popen([sys.executable, "-m", "careloop", "process_inbound"])
            for _ in range(max(0, count))
        ]
        try:
            asyncio.run(serve_forever(host, port))
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


def default_processors(vendor: str) -> int:
    """SQLite takes one writer at a time and runs in the processor's own process: a second
    processor only takes CPU from the listener. On PostgreSQL a processor waits on the
    server for much of each batch (the machine measured 65% busy with one on two cores),
    so one per core overlaps one's Python with another's statements."""
    if vendor == "sqlite":
        return 1
    return max(1, min(os.cpu_count() or 1, 4))

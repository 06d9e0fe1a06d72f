import logging
import signal
import threading

from django.core.management.base import BaseCommand

from careloop.interop.processing import run_forever

logger = logging.getLogger("careloop.interop")


class Command(BaseCommand):
    help = "Import stored inbound messages into the health record (runs until stopped)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll", type=float, default=0.05, help="seconds to wait when nothing is waiting"
        )

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        logger.info("inbound processor started")
        run_forever(stop, poll=options["poll"])

import logging
import os
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from careloop import heap
from careloop.interop.processing import Part, part_lock, release_claims_of, run_forever
from careloop.keycheck import verify_for_command
from careloop.scheduler import STANDBY_RETRY

logger = logging.getLogger("careloop.interop")


class Command(BaseCommand):
    help = "Import stored inbound messages into the health record (runs until stopped)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll", type=float, default=0.05, help="seconds to wait when nothing is waiting"
        )
        parser.add_argument(
            "--part",
            default="0/1",
            help="K/N: this is processor K (from 0) of N running side by side; each imports "
            "its own patients' messages (default 0/1: all of them)",
        )
        parser.add_argument(
            "--nice",
            type=int,
            default=5,
            help="lower this process's CPU priority by this much (default 5): on a machine "
            "it shares with the listener, the listener's acknowledgements come first and "
            "the processors catch up in larger batches",
        )

    def handle(self, *args, **options):
        try:
            part = Part.parse(options["part"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        verify_for_command()
        if options["nice"] > 0:
            os.nice(options["nice"])
        heap.long_running()
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        lock = part_lock(part)
        if not lock.acquire():
            logger.info(
                "inbound processor %d of %d runs on another machine: standing by",
                part.index,
                part.count,
            )
            while not stop.is_set() and not lock.acquire():
                stop.wait(STANDBY_RETRY)
            if stop.is_set():
                return
        released = release_claims_of(part)
        if released:
            logger.warning(
                "inbound processor %d of %d: %d messages a stopped processor had claimed "
                "put back to wait",
                part.index,
                part.count,
                released,
            )
        logger.info("inbound processor %d of %d started", part.index, part.count)
        try:
            run_forever(stop, poll=options["poll"], part=part)
        finally:
            lock.release()

import asyncio
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

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
            default=1,
            help="processes importing stored messages (0: run them elsewhere "
            "with `careloop process_inbound`)",
        )

    def handle(self, *args, **options):
        host, port = settings.MLLP_ADDR
        children = [
            subprocess.Popen([sys.executable, "-m", "careloop", "process_inbound"])
            for _ in range(max(0, options["processors"]))
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

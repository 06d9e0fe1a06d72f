import asyncio
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from careloop.interop.mllp import serve_forever
from careloop.interop.processing import default_processors
from careloop.keycheck import verify_for_command
from careloop.supervisor import stop_processes

PROCESSORS_GRACE = 5.0  # seconds the processors get to finish their batch when we stop


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
            help="processes importing stored messages, each its own patients' (default: "
            "2 on PostgreSQL, 1 on SQLite; 0: run them elsewhere with "
            "`careloop process_inbound --part K/N`)",
        )

    def handle(self, *args, **options):
        count = options["processors"]
        if count is not None and not 0 <= count <= 64:
            # -1 was taken for 0: messages stored and acknowledged, never imported.
            raise CommandError("--processors must be from 0 to 64", returncode=2)
        verify_for_command()
        host, port = settings.MLLP_ADDR
        count = default_processors() if count is None else count
        children = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and command
                [sys.executable, "-m", "careloop", "process_inbound", "--part", f"{k}/{count}"]
            )
            for k in range(count)
        ]
        try:
            asyncio.run(serve_forever(host, port))
        except OSError as error:  # the address taken, or not one of this machine's
            raise CommandError(
                f"cannot listen on {host}:{port} (CARELOOP_MLLP_ADDR): {error.strerror or error}"
            ) from None
        finally:
            # Well inside `careloop serve`'s grace (10 s), so no processor outlives us: one
            # stuck in the database would otherwise be left running when serve kills us.
            stop_processes(children, PROCESSORS_GRACE)

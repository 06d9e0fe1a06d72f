import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from careloop.demo import load_demo
from careloop.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Load synthetic demo data: organisations, a staff user per role and N patients "
        "(idempotent; new users' passwords are printed once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=200)
        parser.add_argument(
            "--quiet-if-loaded",
            action="store_true",
            help="print one line when everything is already there",
        )

    def handle(self, *args, **options):
        count = options["patients"]
        if count < 0 or count > 10_000_000:
            raise CommandError("--patients must be between 0 and 10000000")
        started = time.monotonic()
        with progress_bar(disable=count < 5000) as bar:
            job = bar.add_task("demo patients", total=count)
            result = load_demo(count, lambda done, total: bar.update(job, completed=done))
        elapsed = time.monotonic() - started
        if result.new_logins:
            self._print_logins(result.new_logins)
        if result.patients_created or not options["quiet_if_loaded"]:
            self.stdout.write(
                f"demo: {result.patients_created} patients created, "
                f"{result.patients_total} demo patients in all ({elapsed:.1f} s)"
            )
        else:
            self.stdout.write(
                f"demo: already loaded ({result.patients_total} patients); "
                f"log-ins: {', '.join(result.usernames)}"
            )

    def _print_logins(self, logins):
        path = settings.VAR_DIR / "demo-logins.txt"
        lines = [f"{username:<12} {password}" for username, password in logins.items()]
        self.stdout.write(self.style.SUCCESS(f"Demo log-ins (shown once; also in {path}):"))
        for line in lines:
            self.stdout.write("  " + line)
        self.stdout.write("  (admin must set up two-factor login on first log-in)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write("\n".join(lines) + "\n")

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from careloop.keycheck import verify_for_command
from careloop.supervisor import Child, Supervisor, careloop_argv, default_web_workers, web_argv


class Command(BaseCommand):
    help = (
        "Run the whole system in one process group: migrate, load demo data once, then "
        "web, task worker, scheduler and the HL7 MLLP listener. Ctrl-C stops everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
        parser.add_argument("--demo-patients", type=int, default=200)

    def handle(self, *args, **options):
        self.stdout.write("careloop: applying migrations …")
        call_command("migrate", interactive=False, verbosity=0)
        verify_for_command()  # the same keys as the database's other machines
        if not options["no_demo"]:
            call_command("demo", patients=options["demo_patients"], quiet_if_loaded=True)
        host, port = settings.HTTP_ADDR
        # Django's system checks ran as this command started (~1.8 s of CPU, the URL check
        # loading the whole API): the children skip them.
        children = [
            Child("web", web_argv(host, port, default_web_workers())),
            Child("worker", careloop_argv("worker", "--skip-checks")),
            Child("scheduler", careloop_argv("scheduler", "--skip-checks")),
            Child("mllp", careloop_argv("mllp", "--skip-checks")),
        ]
        supervisor = Supervisor(children)
        supervisor.start()
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        mllp_host, mllp_port = settings.MLLP_ADDR
        self.stdout.write(self.style.SUCCESS(f"\nCareLoop is running: http://{shown}:{port}/"))
        self.stdout.write(
            f"HL7 v2 (MLLP) listener: {mllp_host}:{mllp_port} · "
            f"FHIR R4: http://{shown}:{port}/fhir/R4"
        )
        if not options["no_demo"]:
            self.stdout.write(f"Demo log-ins: see above, or {settings.VAR_DIR / 'demo-logins.txt'}")
        self.stdout.write("Press Ctrl-C to stop.\n")
        raise SystemExit(supervisor.wait())

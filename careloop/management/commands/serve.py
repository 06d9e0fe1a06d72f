import socket

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

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
        if not 0 <= options["demo_patients"] <= 10_000_000:
            raise CommandError("--demo-patients must be between 0 and 10000000", returncode=2)
        # Before anything starts: a taken address was found by the web server alone, after
        # "CareLoop is running" was printed, in five retries of gunicorn's own messages.
        for (host, port), name in (
            (settings.HTTP_ADDR, "CARELOOP_HTTP_ADDR"),
            (settings.MLLP_ADDR, "CARELOOP_MLLP_ADDR"),
        ):
            problem = address_problem(host, port)
            if problem:
                raise CommandError(f"cannot listen on {host}:{port} ({name}): {problem}")
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


def address_problem(host: str, port: int) -> str | None:
    """Why this machine cannot listen on host:port now (taken, not one of its addresses),
    or None. Bound as the servers bind (SO_REUSEADDR), then let go."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        return error.strerror or str(error)
    return None

import json
from typing import Any

from django.core.management.base import BaseCommand

from careloop.analytics.rollup import refresh


class Command(BaseCommand):
    help = (
        "Dashboard counts (F15): refresh applies the follow-up task changes noted since the "
        "last refresh (--full: recount every task); prints JSON {full, changes, rows, seconds}."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        again = sub.add_parser("refresh", help="bring the dashboard's kept counts up to date")
        again.add_argument("--full", action="store_true", help="recount every task")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(refresh(full=options["full"])))

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from careloop.cli import spelled
from careloop.outreach.symptoms import detect


class Command(BaseCommand):
    help = (
        "Print the symptoms detected in a patient's reply as JSON: "
        '{"symptoms": [...], "negated": [...]} (canonical names; negated = said to be absent). '
        "TEXT - reads the reply from stdin. Also `careloop reply-check`."
    )
    # Pure text analysis: no system checks, no database.
    requires_system_checks: list[str] = []
    stealth_options = ("stdin",)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, spelled(subcommand), **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("text", help="the reply, or - for stdin")

    def handle(self, *args, **options):
        text = options["text"]
        if text == "-":
            text = (options.get("stdin") or sys.stdin).read()
        if not text.strip():
            raise CommandError("the reply is empty: give the text to check", returncode=2)
        self.stdout.write(json.dumps(detect(text).as_json(), ensure_ascii=False))

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from careloop.cli import reply_text, spelled
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
        text = reply_text(options)
        self.stdout.write(json.dumps(detect(text).as_json(), ensure_ascii=False))

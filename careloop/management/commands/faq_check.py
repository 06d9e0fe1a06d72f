import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from careloop.accounts.models import Organisation
from careloop.cli import reply_text, spelled
from careloop.outreach.faq import asks, entries_for, rank, suggest


class Command(BaseCommand):
    help = (
        "Print which common question of the knowledge base a patient's reply asks, as JSON: "
        '{"asks": true, "answered": true, "score": 0.61, "question": "...", "answer": "...", '
        '"others": [...]} ("answered": sent automatically; else a suggestion for the staff, '
        "or null). TEXT - reads the reply from stdin. Also `careloop faq-check`."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, spelled(subcommand), **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("text", help="the reply, or - for stdin")
        parser.add_argument(
            "--organisation",
            metavar="CODE",
            help="the patient's organisation (its entries and those above it); "
            "default: only the entries for every organisation",
        )

    def handle(self, *args, **options):
        text = reply_text(options)
        organisation = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(code=options["organisation"]).first()
            if organisation is None:
                raise CommandError(
                    f"no organisation with code {options['organisation']!r}", returncode=2
                )
        found = suggest(text, organisation)
        ranked = rank(text, entries_for(organisation))
        result = {
            "asks": asks(text),
            "answered": bool(found and found.confident),
            "score": found.score if found else None,
            "question": found.entry.question if found else None,
            "answer": found.entry.answer if found else None,
            "others": [
                {"question": entry.question, "score": round(score, 3)}
                for score, entry in ranked[1:4]
            ],
        }
        self.stdout.write(json.dumps(result, ensure_ascii=False))

import json
import sys
import textwrap
from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError

from careloop.rules.risk.base import InputError
from careloop.rules.risk.registry import MODELS, assess


class Command(BaseCommand):
    help = (
        "Run a clinical model on JSON input and print its result as JSON. Models: "
        + ", ".join(MODELS)
        + ". --input takes a JSON object, @FILE to read one from a file, or - for stdin. "
        "Exit status: 0 result printed, 2 bad input (the message names the field)."
    )
    # A pure computation: no system checks, no database.
    requires_system_checks: list[str] = []
    stealth_options = ("stdin",)

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        lines = ["models and their inputs ([optional]; booleans are JSON true/false):"]
        for model in MODELS.values():
            lines.append(f"  {model.name}: {model.summary}")
            lines += textwrap.wrap(
                model.inputs, width=90, initial_indent="      ", subsequent_indent="      "
            )
        parser.epilog = "\n".join(lines)
        return parser

    def add_arguments(self, parser):
        parser.add_argument("model", help="one of: " + ", ".join(MODELS))
        parser.add_argument(
            "--input", required=True, help="JSON object, @path/to/file.json, or - for stdin"
        )

    def handle(self, *args, **options):
        name = options["model"]
        if name not in MODELS:
            raise CommandError(
                f"unknown model {name!r}; choose one of: {', '.join(MODELS)}", returncode=2
            )
        text = self._read(options["input"], options.get("stdin") or sys.stdin)
        try:
            data = json.loads(text)
        except ValueError as error:
            raise CommandError(f"--input is not valid JSON: {error}", returncode=2) from error
        try:
            result = assess(name, data)
        except InputError as error:
            raise CommandError(f"{name}: {error}", returncode=2) from error
        self.stdout.write(json.dumps(result, ensure_ascii=False))

    def _read(self, value: str, stdin: TextIO) -> str:
        if value == "-":
            return stdin.read()
        if value.startswith("@"):
            path = Path(value[1:])
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(
                    f"cannot read input file {path}: {error}", returncode=2
                ) from error
        return value

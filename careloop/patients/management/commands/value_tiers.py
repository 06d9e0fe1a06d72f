import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from careloop.cli import spelled
from careloop.patients.value_tiers import TierSettingError, update_value_tiers


class Command(BaseCommand):
    help = (
        "Value tiers (F5): sets every patient's value tier from their spend and visits over "
        "the last 12 months (thresholds CARELOOP_VALUE_TIERS); prints JSON "
        "{patients, changed, high, medium, low}."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, spelled(subcommand), **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = update_value_tiers()
        except TierSettingError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(json.dumps(result))

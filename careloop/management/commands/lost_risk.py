import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from careloop.cli import spelled


class Command(BaseCommand):
    help = (
        "The lost-to-follow-up model (失访风险, F6): `train` learns it from the follow-ups "
        "closed in the last 12 months and prints JSON {trained_on, auc, base_rate, used, "
        "why, …}; `score` scores the patients with open follow-ups "
        "with the model in use and prints JSON {scored, used, why}."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, spelled(subcommand), **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["train", "score"])

    def handle(self, *args: Any, **options: Any) -> None:
        from careloop.followup import lost_risk

        if options["action"] == "train":
            model = lost_risk.train()
            self.stdout.write(json.dumps(lost_risk.train_report(model), ensure_ascii=False))
            return
        self.stdout.write(json.dumps(lost_risk.score(), ensure_ascii=False))

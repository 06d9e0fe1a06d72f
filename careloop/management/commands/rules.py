import argparse
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from careloop.rules.conditions import RuleError
from careloop.rules.engine import compile_rule, dry_run, sweep
from careloop.rules.models import Rule
from careloop.rules.pack import load_pack
from careloop.rules.services import RULE_FIELDS, do_save_rule, draft_rule


def _definition(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read a rule from {source}: {exc}", returncode=2) from exc
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        raise CommandError('a rule is a JSON object with a "code"', returncode=2)
    return data


def _days(low: int, high: int) -> Any:
    """An argparse type: a whole number of days from ``low`` to ``high``."""

    def read(text: str) -> int:
        try:
            days = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= days <= high:
            raise argparse.ArgumentTypeError(f"{days} is not from {low} to {high}")
        return days

    return read


class Command(BaseCommand):
    help = (
        "Rules (F12): list | show CODE | save FILE | enable CODE | disable CODE | "
        "dry-run CODE|FILE [--days N] | sweep | load-pack. Output is JSON."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every rule with its version and state")
        show = sub.add_parser("show", help="one rule, with its versions")
        show.add_argument("code")
        save = sub.add_parser("save", help="create or change a rule from a JSON file (- = stdin)")
        save.add_argument("file")
        for name in ("enable", "disable"):
            sub.add_parser(name, help=f"{name} a rule").add_argument("code")
        dry = sub.add_parser("dry-run", help="who a rule would have matched, nothing written")
        dry.add_argument("rule", help="a rule's code, or a JSON file with a definition")
        dry.add_argument("--days", type=_days(7, 365), default=30, help="7 to 365 (default 30)")
        sub.add_parser("sweep", help="run the scheduled rules now")
        sub.add_parser("load-pack", help="save the default rule pack (new versions only)")

    def handle(self, *args, **options):
        action = options["action"]
        try:
            result = getattr(self, "do_" + action.replace("-", "_"))(options)
        except RuleError as error:
            raise CommandError(str(error), returncode=2) from error
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str))

    def _rule(self, code: str) -> Rule:
        rule = Rule.objects.select_related("organisation").filter(code=code).first()
        if rule is None:
            raise CommandError(f"no rule {code!r}", returncode=2)
        return rule

    def do_list(self, options):
        return [
            {
                "code": r.code,
                "name": r.name,
                "trigger": r.trigger,
                "version": r.version,
                "enabled": r.enabled,
            }
            for r in Rule.objects.order_by("code")
        ]

    def do_show(self, options):
        rule = self._rule(options["code"])
        fields = ["code", *RULE_FIELDS, "version"]
        return {f: getattr(rule, f) for f in fields} | {
            "versions": [
                {
                    "version": v.version,
                    "saved_at": timezone.localtime(v.saved_at).isoformat(),
                    "enabled": v.enabled,
                }
                for v in rule.versions.all()
            ]
        }

    def do_save(self, options):
        data = _definition(options["file"])
        code = data.pop("code")
        rule, changed = do_save_rule(None, code, data)
        return {"code": rule.code, "version": rule.version, "changed": changed}

    def _switch(self, code: str, enabled: bool):
        rule, _ = do_save_rule(None, self._rule(code).code, {"enabled": enabled})
        return {"code": rule.code, "version": rule.version, "enabled": rule.enabled}

    def do_enable(self, options):
        return self._switch(options["code"], True)

    def do_disable(self, options):
        return self._switch(options["code"], False)

    def do_dry_run(self, options):
        source = options["rule"]
        if Path(source).suffix == ".json" or source == "-":
            data = _definition(source)
            compiled = compile_rule(draft_rule(data.pop("code"), data))
        else:
            compiled = compile_rule(self._rule(source))
        matches = dry_run(compiled, days=options["days"])
        return {
            "rule": compiled.code,
            "days": options["days"],
            "patients": len(matches),
            "matches": [
                {
                    "patient": m.patient_id,
                    "at": timezone.localtime(m.at).isoformat(),  # one offset for all
                    "reasons": m.reasons,
                }
                for m in matches
            ],
        }

    def do_sweep(self, options):
        return {"fired": sweep()}

    def do_load_pack(self, options):
        return load_pack()

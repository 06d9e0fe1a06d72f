import json
import multiprocessing
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from careloop.followup.definition import DefinitionError
from careloop.followup.models import Pathway, Plan
from careloop.followup.pathways import do_save_pathway, load_pack
from careloop.followup.planning import enrol, extend_plans
from careloop.patients.models import Patient


class Command(BaseCommand):
    help = (
        "Follow-up pathways and plans (F7): list | show CODE | save FILE | load-pack | "
        "enrol CODE CARD_NUMBER | enrol-eligible | extend. Output is JSON."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every pathway with its version, trigger and active plans")
        sub.add_parser("show", help="one pathway with its versions").add_argument("code")
        save = sub.add_parser("save", help="create or change a pathway from JSON (- = stdin)")
        save.add_argument("file")
        sub.add_parser("load-pack", help="save the shipped pathways (new versions only)")
        put = sub.add_parser("enrol", help="put a patient (by member card number) on a pathway")
        put.add_argument("code")
        put.add_argument("card_number")
        eligible = sub.add_parser(
            "enrol-eligible",
            help="enrol everyone a diagnosis-triggered pathway calls for who is not on it "
            "(nightly; progress on stderr)",
        )
        eligible.add_argument(
            "--workers", type=int, default=1, help="processes sharing the patients (default 1)"
        )
        sub.add_parser("extend", help="create the tasks that came within the horizon (nightly)")

    def handle(self, *args, **options):
        action = options["action"]
        try:
            result = getattr(self, "do_" + action.replace("-", "_"))(options)
        except DefinitionError as error:
            raise CommandError(str(error), returncode=2) from error
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str))

    def _pathway(self, code: str) -> Pathway:
        pathway = Pathway.objects.filter(code=code).first()
        if pathway is None:
            raise CommandError(f"no pathway {code!r}", returncode=2)
        return pathway

    def do_list(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "code": p.code,
                "name": p.name,
                "trigger": p.trigger,
                "version": p.version,
                "enabled": p.enabled,
                "active_plans": p.plans.filter(status=Plan.Status.ACTIVE).count(),
            }
            for p in Pathway.objects.order_by("code")
        ]

    def do_show(self, options: dict[str, Any]) -> dict[str, Any]:
        pathway = self._pathway(options["code"])
        return {
            "code": pathway.code,
            "name": pathway.name,
            "description": pathway.description,
            "trigger": pathway.trigger,
            "enabled": pathway.enabled,
            "version": pathway.version,
            "definition": pathway.definition,
            "versions": [
                {"version": v.version, "saved_at": v.saved_at.isoformat(), "note": v.note}
                for v in pathway.versions.all()
            ],
        }

    def do_save(self, options: dict[str, Any]) -> dict[str, Any]:
        source = options["file"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read a pathway from {source}: {exc}", returncode=2) from exc
        if not isinstance(data, dict) or not isinstance(data.get("code"), str):
            raise CommandError('a pathway is a JSON object with a "code"', returncode=2)
        if not isinstance(data.get("name"), str) or "definition" not in data:
            raise CommandError('a pathway needs a "name" and a "definition"', returncode=2)
        pathway, changed = do_save_pathway(None, data["code"], data)
        return {"code": pathway.code, "version": pathway.version, "changed": changed}

    def do_load_pack(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        return load_pack()

    def do_enrol(self, options: dict[str, Any]) -> dict[str, Any]:
        pathway = self._pathway(options["code"])
        patient = Patient.objects.filter(card_number=options["card_number"]).first()
        if patient is None:
            raise CommandError("no patient with that member card number", returncode=2)
        with transaction.atomic():
            plan = enrol(patient, pathway, trigger="manual", reason="careloop pathways enrol")
        if plan is None:
            return {"enrolled": False, "reason": "already on this pathway, or deceased"}
        return {"enrolled": True, "plan": plan.pk, "tasks": plan.tasks.count()}

    def do_extend(self, options: dict[str, Any]) -> dict[str, int]:
        return extend_plans()

    def do_enrol_eligible(self, options: dict[str, Any]) -> dict[str, dict[str, int]]:
        from careloop.followup.bulk_enrol import BulkResult, enrol_eligible

        def progress(code: str, total: BulkResult) -> None:
            self.stderr.write(
                f"\r{code}: {total.enrolled:,} enrolled, {total.tasks:,} tasks", ending=""
            )

        workers = options.get("workers")
        workers = 1 if workers is None else workers  # 0 is a wrong number, not the default
        if workers < 1 or workers > 32:
            raise CommandError("--workers must be between 1 and 32", returncode=2)
        if workers == 1:
            result = enrol_eligible(progress=progress)
            self.stderr.write("")
            return result
        from django.db import connections

        from careloop.followup.enrol_worker import enrol_share

        connections.close_all()  # each process opens its own
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(enrol_share, [(i, workers) for i in range(workers)])
        total: dict[str, dict[str, int]] = {}
        for part in parts:
            for code, figures in part.items():
                row = total.setdefault(code, {"enrolled": 0, "tasks": 0})
                row["enrolled"] += figures["enrolled"]
                row["tasks"] += figures["tasks"]
        return total

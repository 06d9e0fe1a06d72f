import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from careloop.questionnaires.definition import DefinitionError
from careloop.questionnaires.fhir import canonical_of, from_questionnaire
from careloop.questionnaires.models import Questionnaire
from careloop.questionnaires.services import do_save_questionnaire, load_pack


class Command(BaseCommand):
    help = (
        "Questionnaires (F10): list | load-pack | save FILE | export CODE | import FILE "
        "(FILE: JSON, - = stdin; export/import: FHIR R4 Questionnaire). Output is JSON."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every questionnaire with its version and status")
        sub.add_parser("load-pack", help="save the shipped questionnaires (new versions only)")
        sub.add_parser("save", help="create or change one from our JSON").add_argument("file")
        sub.add_parser("export", help="print one as a FHIR Questionnaire").add_argument("code")
        sub.add_parser("import", help="save a FHIR Questionnaire").add_argument("file")

    def handle(self, *args, **options):
        action = options["action"]
        try:
            result = getattr(self, "do_" + action.replace("-", "_"))(options)
        except DefinitionError as error:
            raise CommandError(str(error), returncode=2) from error
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str))

    @staticmethod
    def _read(name: str) -> Any:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            return json.loads(text)
        except OSError as error:
            raise CommandError(f"cannot read {name}: {error.strerror}", returncode=2) from error
        except ValueError as error:
            raise CommandError(f"{name} is not JSON: {error}", returncode=2) from error

    def do_list(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"code": q.code, "title": q.title, "version": q.version, "status": q.status}
            for q in Questionnaire.objects.all()
        ]

    def do_load_pack(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        return load_pack()

    def _saved(self, data: Any, url: str = "", label: str = "") -> dict[str, Any]:
        if not isinstance(data, dict):
            raise DefinitionError("questionnaire", "须为一个对象（JSON object）")
        row, changed = do_save_questionnaire(None, data, url=url, label=label)
        return {"code": row.code, "version": row.version, "url": row.canonical, "changed": changed}

    def do_save(self, options: dict[str, Any]) -> dict[str, Any]:
        return self._saved(self._read(options["file"]))

    def do_import(self, options: dict[str, Any]) -> dict[str, Any]:
        """A FHIR Questionnaire, saved as the FHIR API saves one (its url and version kept)."""
        resource = self._read(options["file"])
        if not isinstance(resource, dict):
            raise DefinitionError("questionnaire", "须为一个对象（JSON object）")
        url, label = canonical_of(resource)
        return self._saved(from_questionnaire(resource), url, label)

    def do_export(self, options: dict[str, Any]) -> dict[str, Any]:
        from careloop.questionnaires.services import as_fhir

        row = Questionnaire.objects.filter(code=options["code"]).first()
        if row is None:
            raise CommandError(f"no questionnaire {options['code']!r}", returncode=2)
        return as_fhir(row)

import json
import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from careloop.accounts.models import Organisation
from careloop.care.models import PrintedReport, ReportBatch
from careloop.care.tasks import run_batch
from careloop.patients.models import Patient
from careloop.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Printed health reports (F14): print --out FILE.zip (--patient ID … | --org CODE) "
        "prints each patient's report (archived and audited, like the web's batch printing) "
        "into one zip, with a progress bar; prints JSON {batch, printed, pages, out}."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        printing = sub.add_parser("print", help="print a list of patients' reports")
        printing.add_argument("--out", required=True, help="the zip file to write")
        printing.add_argument("--patient", type=int, action="append", default=[], help="an id")
        printing.add_argument(
            "--org", default="", help="an organisation code: its patients and below"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(options["patient"])
        if options["org"]:
            organisation = Organisation.objects.filter(code=options["org"]).first()
            if organisation is None:
                raise CommandError(f"no organisation {options['org']}", returncode=2)
            ids += list(
                Patient.objects.filter(organisation__path__startswith=organisation.path)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        known = set(Patient.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in known]
        if missing:
            raise CommandError(f"no patient {missing[0]}", returncode=2)
        if not ids:
            raise CommandError("give --patient ID or --org CODE", returncode=2)
        out = Path(options["out"])
        if not out.parent.is_dir():  # before the work, not after it
            raise CommandError(f"--out: no such directory {out.parent}", returncode=2)
        batch = ReportBatch.objects.create(patient_ids=ids, total=len(ids))
        with progress_bar() as bar:
            task = bar.add_task("printing", total=len(ids))
            run_batch(batch.pk, lambda done, _total: bar.update(task, completed=done))
        batch.refresh_from_db()
        with batch.archive.open("rb") as source, Path(options["out"]).open("wb") as target:
            shutil.copyfileobj(source, target)
        pages = sum(PrintedReport.objects.filter(batch=batch).values_list("pages", flat=True))
        result = {
            "batch": batch.pk,
            "printed": batch.printed,
            "pages": pages,
            "out": options["out"],
        }
        self.stdout.write(json.dumps(result))

import json
import re
import signal
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from careloop.accounts.models import User
from careloop.interop.importer.columns import FIELD_LABELS, ITEM, ColumnMap, MappingError
from careloop.interop.importer.jobs import AlreadyImported, do_create_import
from careloop.interop.importer.reader import ReadError
from careloop.interop.importer.runner import Importer, mark_failed
from careloop.interop.models import ImportJob
from careloop.progress import progress_bar

# A "header" of eight digits or more is a value: an ID, phone or record number of the first
# patient of a file without a header row, not to be printed on the terminal. (A LOINC code,
# 14771-0, has seven at most.)
_A_NUMBER = re.compile(r"\+?[\d \-]+[Xx]?")


def _a_number(header: object) -> bool:
    text = str(header).strip()
    return bool(_A_NUMBER.fullmatch(text)) and sum(c.isdigit() for c in text) >= 8


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _columns(given: str) -> dict[str, str]:
    """--columns as {"header": "field"}, every field one the importer knows (or "" for
    "not imported")."""
    try:
        columns = json.loads(given)
    except ValueError as error:
        raise CommandError(f"--columns is not JSON: {error}", returncode=2) from error
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise CommandError('--columns must be a JSON object {"header": "field"}', returncode=2)
    unknown = sorted(
        v for v in columns.values() if v and v not in FIELD_LABELS and not v.startswith(ITEM)
    )
    if unknown:
        raise CommandError(
            f"--columns: unknown field(s) {', '.join(unknown)}; known: "
            f"{', '.join(FIELD_LABELS)}, or {ITEM}<LOINC code> for a column of one item",
            returncode=2,
        )
    return columns


class Command(BaseCommand):
    help = (
        "Import exam or lab results from an Excel (.xlsx) or CSV file. Columns are "
        "recognised by their headers (or as last time for this --source). Exit status: "
        "0 all rows imported, 1 some rows not imported (see the error report), 2 nothing "
        "could be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--source", default="Excel", help="where the file comes from")
        parser.add_argument(
            "--mode",
            choices=["skip", "all"],
            default="skip",
            help="skip: import the good rows; all: nothing if any row is wrong",
        )
        parser.add_argument("--columns", help='JSON {"header": "field"} to override the mapping')
        parser.add_argument("--user", help="import as this user (default: system)")
        parser.add_argument(
            "--force", action="store_true", help="import even if this very file was imported before"
        )
        parser.add_argument(
            "--show-columns", action="store_true", help="print the column mapping and stop"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}", returncode=2)
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user named {options['user']!r}", returncode=2)
            if not user.has_perm("interop.add_importjob"):
                raise CommandError(
                    f"{options['user']!r} may not import results (their role lacks it)",
                    returncode=2,
                )
        given = _columns(options["columns"]) if options["columns"] else {}
        with path.open("rb") as handle:
            try:
                job = do_create_import(
                    user,
                    File(handle),
                    path.name,
                    options["source"],
                    options["mode"],
                    force=options["force"],
                )
            except (ReadError, AlreadyImported) as error:
                raise CommandError(str(error), returncode=2) from error
        if given:
            job.columns.update(given)
            job.save(update_fields=["columns"])
        if any(_a_number(header) for header in job.columns):
            if options["show_columns"]:  # a look, not an import: the upload goes
                job.file.delete(save=False)
                job.delete()
            else:
                mark_failed(job, "the first row holds numbers, not column headers")
            raise CommandError(
                "the first row holds an ID, phone or record number, not column headers: "
                "add a header row (身份证号, 姓名, 体检日期, …) and import the file again",
                returncode=2,
            )
        self.stderr.write("columns:")
        for header, target in job.columns.items():
            self.stderr.write(f"  {header} → {FIELD_LABELS.get(target, target)}")
        try:
            ColumnMap.build(list(job.columns), job.columns).check()
        except MappingError as error:  # refused as a run on the page is: failed, with why
            mark_failed(job, str(error))
            raise CommandError(str(error), returncode=2) from error
        finally:
            if options["show_columns"]:  # a look, not an import: the upload goes
                job.file.delete(save=False)
                job.delete()
        if options["show_columns"]:
            return
        with progress_bar() as bar:
            task = bar.add_task("importing", total=None)

            def progress(current: ImportJob) -> None:
                bar.update(task, total=current.total_rows or None, completed=current.processed_rows)

            # `kill`, `timeout` or a service manager stopping us: as Ctrl-C, the import ends
            # failed instead of "running" for ever.
            stopped = signal.signal(signal.SIGTERM, _interrupt)
            try:
                job = Importer(job, user=user, progress=progress).run()
            except KeyboardInterrupt:
                job.refresh_from_db()
                raise CommandError(
                    f"interrupted: {job.imported_rows} of {job.total_rows} rows imported "
                    f"(import {job.pk}, marked failed); run the same command again to "
                    "import the rest",
                    returncode=130,
                ) from None
            finally:
                signal.signal(signal.SIGTERM, stopped)
        summary = {
            "import": job.pk,
            "status": job.status,
            "rows": job.total_rows,
            "imported_rows": job.imported_rows,
            "already_stored_rows": job.already_stored_rows,
            "error_rows": job.error_rows,
            "patients_created": job.patients_created,
            "alerts_raised": job.alerts_raised,
            "error_report": job.error_report.path if job.error_report else None,
            "message": job.message,
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
        if job.status == ImportJob.Status.FAILED and not job.error_rows:
            raise CommandError(job.message, returncode=2)
        if job.error_rows:
            raise SystemExit(1)

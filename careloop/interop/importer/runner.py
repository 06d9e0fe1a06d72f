"""Running an import: read in chunks, find or enrol the patients, store graded results.

Two modes. *Skip bad rows*: each chunk is its own transaction, so progress is visible and a
wrong row costs only itself. *All or nothing*: a first pass checks every row (including
whether its patient can be found or enrolled) and stops there if any is wrong; a second
pass then writes everything in one transaction. Either way every wrong row is listed, with
the reason, in an Excel error report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import BytesIO
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from careloop.audit.models import AuditEvent
from careloop.clinical import catalogue as catalogue_module
from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Source
from careloop.clinical.panels import with_pressures
from careloop.clinical.services import ReportInput, do_record_results
from careloop.interop.importer.columns import (
    FIELD_LABELS,
    ITEM,
    ColumnMap,
    MappingError,
    distinct,
    name_key,
)
from careloop.interop.importer.reader import ReadError, Sheet, blank
from careloop.interop.importer.rows import ParsedRow, parse_row, text
from careloop.interop.importer.stored import drop_stored
from careloop.interop.models import CodeMapping, ImportJob, ImportMapping
from careloop.patients.access import scope_organisation_ids
from careloop.patients.models import Patient, PatientIdentifier
from careloop.patients.services import new_card_numbers
from careloop.rules.engine import run_for_results

CHUNK = 2000

# A report the sheet does not name (patients read it on their pages: not the file's name).
UNNAMED_REPORT = "检查检验结果"


logger = logging.getLogger("careloop.import")
# What an import has stored, saved after each chunk it commits.
COUNTS = [
    "processed_rows",
    "imported_rows",
    "error_rows",
    "patients_created",
    "alerts_raised",
    "already_stored_rows",
]


def mark_failed(job: ImportJob, message: str) -> ImportJob:
    """The import ended without importing: failed, with why (shown on its page)."""
    job.status, job.finished_at = ImportJob.Status.FAILED, timezone.now()
    job.message = message
    job.save()
    return job


class Rollback(Exception):
    """Undo an all-or-nothing import whose second pass failed after all."""


class ErrorReport:
    """The wrong rows, as they were, with a column saying what is wrong. The workbook is
    made on the first wrong row (an import without errors writes no report)."""

    def __init__(self, header: list[Any], mapping: ColumnMap | None = None) -> None:
        self.header = header
        self.mapping = mapping
        self.workbook: Workbook | None = None
        self.count = 0

    def column(self, target: str) -> str:
        """How the report names the column a problem is in: by its header in the file
        ("体检日期", not the field "检查日期" it was mapped to), else by the field's name;
        "" where the message names the column itself (an item's column of a wide sheet)."""
        if self.mapping is not None and target in self.mapping.targets:
            index = self.mapping.targets.index(target)
            if header := self.mapping.headers[index]:
                return str(header)
        if target.startswith(ITEM) or (
            target == "value" and self.mapping is not None and not self.mapping.is_long
        ):
            return ""
        return str(FIELD_LABELS.get(target, target))

    def add(self, row: ParsedRow) -> None:
        if self.workbook is None:
            self.workbook = Workbook(write_only=True)
            self.sheet = self.workbook.create_sheet(_("Rows not imported"))
            self.sheet.append([_("Row"), *[_cell(h) for h in self.header], _("What is wrong")])
        problems = "; ".join(
            f"{named}: {message}" if (named := self.column(column)) else message
            for column, message in row.errors
        )
        # The problem goes under its own header whatever the row's length: a short CSV row
        # is padded, and a long one's extra cells follow the problem (kept, not dropped).
        values = [_cell(v) for v in row.values]
        width = len(self.header)
        cells = values[:width] + [None] * (width - len(values))
        self.sheet.append([row.number, *cells, _cell(problems), *values[width:]])
        self.count += 1

    def content(self) -> bytes:
        assert self.workbook is not None
        buffer = BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str):  # a control character (NUL …) cannot go in a workbook
        return ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
    return value.replace(tzinfo=None) if hasattr(value, "tzinfo") and value.tzinfo else value


def item_codes(source_id: int) -> dict[str, str]:
    """What a sheet may call an item → its LOINC code: LOINC codes, catalogue names (Chinese
    and English), and the source's own codes and names from its code mappings."""
    codes: dict[str, str] = {}
    catalogue = catalogue_module.current()
    for code, item in reversed(list(catalogue.items.items())):  # first listed name wins
        codes[name_key(item.name)] = code
    for code in catalogue.items:
        codes[name_key(code)] = code
    for mapping in CodeMapping.objects.filter(source_id=source_id):
        codes[name_key(mapping.local_code)] = mapping.loinc
        if mapping.local_name:
            codes[name_key(mapping.local_name)] = mapping.loinc
    return codes


class Importer:
    def __init__(
        self,
        job: ImportJob,
        *,
        user: Any = None,
        progress: Callable[[ImportJob], None] | None = None,
    ) -> None:
        self.job = job
        self.user = user if user is not None else job.created_by
        self.progress = progress or (lambda _job: None)
        self.source = job.source
        self.organisation = job.source.organisation
        self.scope = scope_organisation_ids(self.user) if self.user is not None else None
        self.catalogue = catalogue_module.current()
        self.abnormal: set[int] = set()  # patients of the chunk with an abnormal result
        self.enrolled: set[int] = set()  # patients the chunk enrolled: nothing stored before

    # ------------------------------------------------------------------ the run

    def run(self) -> ImportJob:
        job = self.job
        job.status, job.started_at = ImportJob.Status.RUNNING, timezone.now()
        # Counted afresh (a failed import started again counted on from the last run).
        job.processed_rows = job.imported_rows = job.error_rows = 0
        job.patients_created = job.alerts_raised = job.already_stored_rows = 0
        job.save(update_fields=["status", "started_at", *COUNTS])
        try:
            sheet = Sheet(job.file.open("rb"), job.filename)
        except ReadError as error:
            return self._fail(str(error))
        report: ErrorReport | None = None
        try:
            header_number, cells, _rows = sheet.table()
            header = distinct([text(h) for h in cells])
            if not any(header):
                return self._fail(_("The file is empty."))
            mapping = ColumnMap.build(header, job.columns)
            mapping.check()
            # Remembered for the source's next file once it can work, whatever the rows say:
            # an all-or-nothing import stopped by one wrong row is imported again corrected.
            ImportMapping.objects.update_or_create(
                source=self.source, defaults={"columns": job.columns}
            )
            job.total_rows = sheet.count(header_number)
            job.save(update_fields=["total_rows"])
            codes = item_codes(self.source.pk)
            report = ErrorReport(header, mapping)
            if job.mode == ImportJob.Mode.ALL_OR_NOTHING:
                self._pass(sheet, mapping, codes, report, write=False)
                if report.count:
                    self._save_report(report)
                    return self._fail(
                        ngettext(
                            "%(count)d row is wrong, so nothing was imported: "
                            "see the error report.",
                            "%(count)d rows are wrong, so nothing was imported: "
                            "see the error report.",
                            report.count,
                        )
                        % {"count": report.count}
                    )
                try:
                    with transaction.atomic():
                        job.processed_rows = 0
                        self._pass(sheet, mapping, codes, report, write=True)
                        if report.count:
                            raise Rollback
                except Rollback:
                    job.imported_rows = job.patients_created = job.alerts_raised = 0
                    job.already_stored_rows = 0
                    self._save_report(report)
                    return self._fail(
                        _(
                            "Some rows could not be stored, so nothing was "
                            "imported: see the error report."
                        )
                    )
            else:
                self._pass(sheet, mapping, codes, report, write=True)
                if report.count:
                    self._save_report(report)
        except MappingError as error:
            return self._fail(str(error))
        except KeyboardInterrupt:
            # Ctrl-C on `careloop import`: the chunk under way is rolled back with its
            # transaction; the import must not stay "running" for ever. Failed, saying so;
            # the same file is imported again (its stored rows counted as already stored).
            job.refresh_from_db(fields=COUNTS)
            self._fail(
                _(
                    "The import was interrupted: the rows counted as imported are kept, the "
                    "others are not. Import the file again to add them."
                )
            )
            raise
        except Exception as error:
            # A defect of ours, or the database failing, must not leave the import "running"
            # for ever (nothing runs a running one again): failed, saying so. What chunks
            # committed before it (skip bad rows) stays imported, and is counted.
            logger.error("import %s stopped: %s", job.pk, type(error).__name__)
            job.refresh_from_db(fields=COUNTS)
            if report is not None and report.count:
                # The wrong rows of the chunks committed before it: not imported, so named.
                try:
                    self._save_report(report)
                except Exception as failed:  # the failing storage, say: failed all the same
                    logger.error("import %s: no error report: %s", job.pk, type(failed).__name__)
            return self._fail(
                _(
                    "The import stopped on an unexpected error (%(problem)s): the rows "
                    "counted as imported are kept, the others are not. Please tell your "
                    "administrator."
                )
                % {"problem": type(error).__name__}
            )
        finally:
            sheet.close()
        job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
        job.error_rows = report.count
        job.save()
        return job

    def _fail(self, message: str) -> ImportJob:
        return mark_failed(self.job, message)

    def _save_report(self, report: ErrorReport) -> None:
        self.job.error_rows = report.count
        name = f"{self.job.pk}-errors.xlsx"
        self.job.error_report.save(name, ContentFile(report.content()), save=False)
        self.job.save(update_fields=["error_rows", "error_report"])

    def _pass(
        self,
        sheet: Sheet,
        mapping: ColumnMap,
        codes: dict[str, str],
        report: ErrorReport,
        *,
        write: bool,
    ) -> None:
        chunk: list[ParsedRow] = []
        first_seen: dict[str, int] = {}  # a row's cells → the row they were first in
        for number, values in sheet.table()[2]:
            if blank(values):
                continue
            row = parse_row(number, values, mapping, codes)
            seen = repr([text(v) for v in values])
            if seen in first_seen:  # the same results again: reported, not stored twice
                row.fail(
                    "value",
                    _("The same as row %(n)s: not imported twice.") % {"n": first_seen[seen]},
                )
            else:
                first_seen[seen] = number
            chunk.append(row)
            if len(chunk) >= CHUNK:
                self._chunk(chunk, report, write=write)
                chunk = []
        if chunk:
            self._chunk(chunk, report, write=write)

    def _chunk(self, rows: list[ParsedRow], report: ErrorReport, *, write: bool) -> None:
        job = self.job
        in_transaction = transaction.get_connection().in_atomic_block
        with transaction.atomic():
            good = [row for row in rows if not row.errors]
            self.enrolled = set()  # those of earlier chunks have their results stored
            patients = self._patients(good, create=write)
            if write:

                def patient_pk(row: ParsedRow) -> int:
                    patient = patients[id(row)]
                    assert patient is not None  # a row without one has an error
                    return patient.pk

                dated = [r for r in good if not r.errors and r.effective_at is not None]
                emptied = drop_stored(dated, patient_pk, self.catalogue.item, self.enrolled)
                skipped = {id(row) for row in emptied}
                job.already_stored_rows += len(skipped)
                visits: dict[tuple[Any, ...], list[ParsedRow]] = {}
                for row in good:
                    if not row.errors and id(row) not in skipped:
                        patient = patients[id(row)]
                        assert patient is not None
                        visits.setdefault((patient.pk, row.effective_at, row.report), []).append(
                            row
                        )
                new_codes: dict[int, set[str]] = {}
                for visit_rows in visits.values():
                    patient = patients[id(visit_rows[0])]
                    assert patient is not None
                    new_codes.setdefault(patient.pk, set()).update(self._store(visit_rows, patient))
                    job.imported_rows += len(visit_rows)
                # Risk models and rules, once for the chunk.
                run_for_results(new_codes, abnormal=self.abnormal)
                self.abnormal = set()
        for row in rows:
            if row.errors:
                report.add(row)
        job.processed_rows += len(rows)
        if not in_transaction:
            job.save(
                update_fields=[
                    "processed_rows",
                    "imported_rows",
                    "patients_created",
                    "alerts_raised",
                    "already_stored_rows",
                ]
            )
        self.progress(job)

    # ------------------------------------------------------------------ patients

    def check_patients(self, rows: list[ParsedRow]) -> None:
        """The errors the import will give these rows' patients (another organisation's, or
        not enrolled and not enough to enrol them), enrolling nobody: for the preview."""
        self._patients(rows, create=False)

    def _patients(self, rows: list[ParsedRow], *, create: bool) -> dict[int, Patient | None]:
        """Each row's patient, found by identifier (batched) or, with ``create``, enrolled.
        A row whose patient can be neither found nor enrolled gets an error."""
        found: dict[int, Patient | None] = {}
        by_id = self._lookup(rows)
        new: dict[str, Patient] = {}
        for row in rows:
            patient = by_id.get(id(row))
            if patient is not None:
                if self.scope is not None and patient.organisation_id not in self.scope:
                    row.fail("id_number", _("This patient belongs to another organisation."))
                    continue
                found[id(row)] = patient
                continue
            data = row.patient
            if not {"name", "sex", "birth_date"} <= data.keys():
                row.fail(
                    "name",
                    _(
                        "The patient is not enrolled yet; to enrol them the row "
                        "needs name, sex and date of birth (or an ID number)."
                    ),
                )
                continue
            key = _identity_key(data)
            if key not in new:
                new[key] = Patient(
                    name=data["name"],
                    sex=data["sex"],
                    birth_date=data["birth_date"],
                    id_number=data.get("id_number", ""),
                    phone=data.get("phone", ""),
                    passport=data.get("passport", ""),
                    organisation=self.organisation,
                    created_by=self.user,
                )
                new[key]._import_row = data  # type: ignore[attr-defined]
            found[id(row)] = new[key]
        if create and new:
            self._enrol(list(new.values()))
        return found

    def _lookup(self, rows: list[ParsedRow]) -> dict[int, Patient]:
        ids = {row.patient["id_number"] for row in rows if "id_number" in row.patient}
        passports = {row.patient["passport"] for row in rows if "passport" in row.patient}
        numbers = {
            (kind, row.patient[key])
            for row in rows
            for key, kind in (("mrn", "mrn"), ("exam_number", "exam"))
            if key in row.patient
        }
        phones = {
            row.patient["phone"] for row in rows if "phone" in row.patient and "name" in row.patient
        }
        by_hash: dict[str, Patient] = {}
        queryset = Patient.objects.select_related("organisation")
        if ids:
            hashes = {h: v for v in ids for h in Patient.index_hashes("id_number", v)}
            for patient in queryset.filter(id_number_hash__in=list(hashes)):
                by_hash[f"id:{patient.id_number}"] = patient
        if passports:
            hashes = {h: v for v in passports for h in Patient.index_hashes("passport", v)}
            for patient in queryset.filter(passport_hash__in=list(hashes)):
                by_hash[f"passport:{patient.passport}"] = patient
        if numbers:
            hashes = {
                h: (kind, value)
                for kind, value in numbers
                for h in PatientIdentifier.index_hashes(value)
            }
            for item in PatientIdentifier.objects.filter(
                system=self.organisation.code, value_hash__in=list(hashes)
            ).select_related("patient__organisation"):
                by_hash[f"{item.kind}:{item.value.upper()}"] = item.patient
        if phones:
            hashes = {h: v for v in phones for h in Patient.index_hashes("phone", v)}
            for patient in queryset.filter(phone_hash__in=list(hashes)):
                by_hash[f"phone:{patient.phone}:{patient.name}"] = patient
        result: dict[int, Patient] = {}
        for row in rows:
            data = row.patient
            for key in (
                f"id:{data.get('id_number')}",
                f"passport:{data.get('passport')}",
                f"mrn:{str(data.get('mrn', '')).upper()}",
                f"exam:{str(data.get('exam_number', '')).upper()}",
                f"phone:{data.get('phone')}:{data.get('name')}",
            ):
                if key in by_hash:
                    result[id(row)] = by_hash[key]
                    break
        return result

    def _enrol(self, patients: list[Patient]) -> None:
        """Enrol new patients in one go: card numbers, record numbers, audit events."""
        for patient, number in zip(patients, new_card_numbers(len(patients)), strict=True):
            patient.card_number = number
        Patient.objects.bulk_create(patients)
        identifiers = []
        for patient in patients:
            data = patient._import_row  # type: ignore[attr-defined]
            for key, kind in (
                ("mrn", PatientIdentifier.Kind.MRN),
                ("exam_number", PatientIdentifier.Kind.EXAM),
            ):
                if data.get(key):
                    identifiers.append(
                        PatientIdentifier(
                            patient=patient,
                            kind=kind,
                            system=self.organisation.code,
                            value=data[key],
                        )
                    )
        PatientIdentifier.objects.bulk_create(identifiers)
        now = timezone.now()
        label = self.user.get_username() if self.user else f"import:{self.source.facility}"
        AuditEvent.objects.bulk_create(
            AuditEvent(
                at=now,
                actor=self.user,
                actor_label=label[:150],
                action="create",
                object_type="patient",
                object_id=str(p.pk),
                patient_id=p.pk,
                organisation_id=getattr(self.user, "organisation_id", None),
                summary=f"enrolled from import {self.job.pk}",
                via="web" if self.user else "cli",
            )
            for p in patients
        )
        self.job.patients_created += len(patients)
        self.enrolled.update(p.pk for p in patients)

    # ------------------------------------------------------------------ results

    def _store(self, rows: list[ParsedRow], patient: Patient | None) -> set[str]:
        """One report for one patient's results of one date (and report name); returns the
        LOINC codes stored (rules and risk models run once per chunk, on them)."""
        row = rows[0]
        assert patient is not None and row.effective_at is not None
        results = with_pressures(
            [
                ResultInput(
                    name=cell.name or cell.code,
                    observed_at=row.effective_at,
                    loinc=cell.code if self.catalogue.item(cell.code) else "",
                    local_code="" if self.catalogue.item(cell.code) else cell.code[:50],
                    local_system="" if self.catalogue.item(cell.code) else "import",
                    value=cell.value,
                    comparator=cell.comparator,
                    text=cell.text,
                    unit=cell.unit,
                    reference=cell.reference,
                    flags=cell.flags,
                )
                for visit_row in rows
                for cell in visit_row.results
            ]
        )
        stored = do_record_results(
            patient,
            ReportInput(name=row.report or UNNAMED_REPORT, effective_at=row.effective_at),
            results,
            source=Source.IMPORT,
            source_label=self.source.name or self.source.facility,
            catalogue=self.catalogue,
            run_rules=False,
        )
        self.job.alerts_raised += len(stored.alerts)
        if stored.abnormal:
            self.abnormal.add(patient.pk)
        return {result.loinc for result in results if result.loinc}


def _identity_key(data: dict[str, Any]) -> str:
    for key in ("id_number", "passport", "mrn", "exam_number"):
        if data.get(key):
            return f"{key}:{data[key]}"
    return f"phone:{data.get('phone')}:{data.get('name')}"

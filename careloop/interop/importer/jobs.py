"""Creating, previewing and starting imports (used by the upload page and the CLI)."""

from __future__ import annotations

import hashlib
from itertools import islice
from typing import Any

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from careloop.audit.services import record
from careloop.clinical import catalogue as catalogue_module
from careloop.interop.importer.columns import IGNORE, ITEM, ColumnMap, distinct, guess, name_key
from careloop.interop.importer.reader import ReadError, Sheet, blank
from careloop.interop.importer.rows import ParsedRow, parse_row, text
from careloop.interop.importer.runner import Importer, item_codes
from careloop.interop.ingest import default_organisation
from careloop.interop.models import ImportJob, ImportMapping, SourceSystem
from careloop.patients.access import scope_organisation_ids


def catalogue_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code, item in reversed(list(catalogue_module.current().items.items())):
        names[name_key(item.name)] = code
        names[name_key(item.code)] = code
    return names


def source_named(name: str, actor: Any) -> SourceSystem:
    """The sending system a file comes from, among those of the user's organisations
    (created on first use, in the user's organisation): its organisation is where the
    file's new patients are enrolled, so a name another organisation uses names its own
    source here (the sending facility is then the name and the organisation's code)."""
    name = name.strip()[:100] or "Excel"
    organisation = getattr(actor, "organisation", None) or default_organisation()
    sources = SourceSystem.objects.all()
    org_ids = scope_organisation_ids(actor) if actor is not None else None
    if org_ids is not None:
        sources = sources.filter(organisation_id__in=org_ids)
    key = f"{name}·{organisation.code}"[:100] if organisation is not None else name
    source = sources.filter(facility=name).first() or sources.filter(facility=key).first()
    if source is None:
        if organisation is None:
            raise ReadError(
                _(
                    "No organisation is set up yet: create one (or run `careloop "
                    "demo`) before importing."
                )
            )
        taken = SourceSystem.objects.filter(facility=name).exists()  # by another organisation
        source = SourceSystem.objects.create(
            facility=key if taken else name, name=name, organisation=organisation
        )
    return source


def headers_of(job: ImportJob) -> list[str]:
    sheet = Sheet(job.file.open("rb"), job.filename)
    try:
        return distinct([text(h) for h in sheet.table()[1]])
    finally:
        sheet.close()


def initial_columns(source: SourceSystem, headers: list[str]) -> dict[str, str]:
    """Last time's mapping for this source where it still fits, else a guess."""
    guessed = guess(headers, catalogue_names())
    remembered = ImportMapping.objects.filter(source=source).first()
    if remembered:
        for header in headers:
            if header in remembered.columns:
                guessed[header] = remembered.columns[header]
    return guessed


class AlreadyImported(ValueError):
    """The same file from the same source was imported before."""

    def __init__(self, job: ImportJob) -> None:
        super().__init__(
            _("This file was already imported from %(source)s on %(when)s (import %(id)s).")
            % {
                "source": job.source,
                "when": f"{timezone.localtime(job.created_at):%Y-%m-%d %H:%M}",
                "id": job.pk,
            }
        )
        self.job = job


def checksum_of(upload: File) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in iter(lambda: upload.read(1 << 20), b""):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def do_create_import(
    actor: Any, upload: File, filename: str, source_name: str, mode: str, *, force: bool = False
) -> ImportJob:
    """Store the file as uploaded and propose a column mapping. ReadError if it cannot be
    read; AlreadyImported if this very file from this source was imported already."""
    source = source_named(source_name, actor)
    checksum = checksum_of(upload)
    earlier = ImportJob.objects.filter(
        source=source, checksum=checksum, status=ImportJob.Status.DONE
    ).first()
    if earlier is not None and not force:
        raise AlreadyImported(earlier)
    job = ImportJob(
        source=source,
        filename=filename[:200],
        mode=mode,
        checksum=checksum,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    job.file.save(filename[-100:], upload, save=False)
    job.save()
    try:
        headers = headers_of(job)
        if not any(headers):
            raise ReadError(_("The file is empty."))
        job.columns = initial_columns(source, headers)
    except Exception:
        job.delete()
        raise
    job.save(update_fields=["columns"])
    record(
        actor if job.created_by else None,
        "create",
        "import",
        job.pk,
        summary=f"uploaded {filename[:100]}",
        actor_label="" if job.created_by else "cli",
    )
    return job


def preview(job: ImportJob, limit: int = 10) -> tuple[ColumnMap, list[ParsedRow]]:
    sheet = Sheet(job.file.open("rb"), job.filename)
    try:
        _, header, rows = sheet.table()
        mapping = ColumnMap.build(distinct([text(h) for h in header]), job.columns)
        codes = item_codes(job.source_id)
        parsed = [
            parse_row(number, values, mapping, codes)
            for number, values in islice(((n, v) for n, v in rows if not blank(v)), limit)
        ]
        # Whose rows they are, as the import will find them (nothing is enrolled here): a
        # patient of another organisation, or one who cannot be enrolled, shows now.
        Importer(job).check_patients([row for row in parsed if not row.errors])
        return mapping, parsed
    finally:
        sheet.close()


def choices() -> list[tuple[str, str]]:
    """Targets a column can be given, for the mapping form."""
    from careloop.interop.importer.columns import FIELD_LABELS, PATIENT_FIELDS, RESULT_FIELDS

    options = [(IGNORE, str(FIELD_LABELS[IGNORE]))]
    options += [(f, str(FIELD_LABELS[f])) for f in PATIENT_FIELDS + RESULT_FIELDS]
    options += [
        (f"{ITEM}{item.code}", f"{item.name} ({item.code})")
        for item in catalogue_module.current().items.values()
    ]
    return options


class AlreadyStarted(ValueError):
    """The import was started already (the button clicked twice, or by a colleague)."""

    def __init__(self, status: str) -> None:
        super().__init__(
            _("This import was already started (now: %(status)s).")
            % {"status": ImportJob.Status(status).label}
        )


def do_start_import(actor: Any, job: ImportJob, columns: dict[str, str]) -> ImportJob:
    """Check the mapping, then queue the import for the task worker (MappingError if the
    columns cannot work, AlreadyStarted when it is queued, running or done already)."""
    from careloop.interop.tasks import run_import

    mapping = ColumnMap.build(list(columns), columns)
    mapping.check()
    with transaction.atomic():
        status = (
            ImportJob.objects.select_for_update()
            .filter(pk=job.pk)
            .values_list("status", flat=True)
            .get()
        )
        if status not in (ImportJob.Status.UPLOADED, ImportJob.Status.FAILED):
            raise AlreadyStarted(status)
        job.columns = columns
        job.status = ImportJob.Status.QUEUED
        if job.created_by is None and getattr(actor, "is_authenticated", False):
            # A `careloop import` run started again on the page runs as the person who
            # started it, within what they may reach (without a user nothing is scoped).
            job.created_by = actor
        job.save(update_fields=["columns", "status", "created_by"])
        record(actor, "update", "import", job.pk, summary="import started")
        # Enqueued in the same transaction: the job row and the task commit together. It
        # runs in the language of the page it was started from (its message, error report).
        run_import.enqueue(job.pk, get_language())
    return job

"""Batch printing of health reports in the background, with progress."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.files import File
from django.utils import timezone
from django_tasks import task

PARALLEL_FROM = 10  # smaller batches render in this process


def _rendered(patient_ids: list[int]) -> Iterator[tuple[Any, Any]]:
    """(patient, Rendered) in order; (None, None) for a patient no longer there."""
    from careloop.care.render_pool import render_many
    from careloop.care.report import Rendered, render_pdf
    from careloop.patients.models import Patient

    patients = Patient.objects.in_bulk(patient_ids)
    processes = settings.CARELOOP_REPORT_PROCESSES
    if processes > 1 and len(patient_ids) >= PARALLEL_FROM:
        for patient_id, pdf, pages in render_many(patient_ids, processes):
            found = patients.get(patient_id) if pdf else None
            yield found, Rendered(pdf, pages) if found else None
        return
    for patient_id in patient_ids:
        patient = patients.get(patient_id)
        yield patient, render_pdf(patient) if patient else None


@task()
def print_batch(batch_id: int) -> str:
    """Print every patient's report of the batch (see ``run_batch``)."""
    return run_batch(batch_id)


def run_batch(batch_id: int, progress: Callable[[int, int], None] | None = None) -> str:
    """Print every patient's report of the batch, archive each copy and put them in one
    zip file; ``progress(printed, total)`` after each. A batch already started is left
    alone (safe to run twice)."""
    from careloop.care.models import ReportBatch
    from careloop.care.report import archive

    batch = ReportBatch.objects.select_related("requested_by").get(pk=batch_id)
    claimed = ReportBatch.objects.filter(pk=batch_id, status=ReportBatch.Status.QUEUED).update(
        status=ReportBatch.Status.RUNNING
    )
    if not claimed:
        return batch.status
    with tempfile.TemporaryFile() as spool:
        try:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as zipped:
                for patient, rendered in _rendered(batch.patient_ids):
                    if patient is not None and rendered is not None:
                        archive(batch.requested_by, patient, rendered, batch)
                        zipped.writestr(f"{patient.card_number}.pdf", rendered.pdf)
                    batch.printed += 1
                    ReportBatch.objects.filter(pk=batch.pk).update(printed=batch.printed)
                    if progress is not None:
                        progress(batch.printed, batch.total)
            spool.seek(0)
            batch.archive.save(f"reports-{batch.pk}.zip", File(spool), save=False)
            batch.status, batch.finished_at = ReportBatch.Status.DONE, timezone.now()
            batch.save(update_fields=["status", "finished_at", "archive", "printed"])
        except (Exception, KeyboardInterrupt) as exc:  # the page says so, not "running" forever
            batch.status, batch.message = ReportBatch.Status.FAILED, str(exc)[:300]
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C on `careloop reports print`
                batch.message = f"interrupted after {batch.printed} of {batch.total}"
            batch.finished_at = timezone.now()
            batch.save(update_fields=["status", "message", "finished_at"])
            raise
    return batch.status


@task()
def draft_stage_summaries() -> int:
    """Last quarter's stage summaries, drafted for staff to finish (idempotent)."""
    from careloop.care.summaries import make_due_summaries

    return make_due_summaries()

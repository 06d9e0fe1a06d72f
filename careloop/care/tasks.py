"""Batch printing of health reports in the background, with progress."""

from __future__ import annotations

import tempfile
import zipfile

from django.core.files import File
from django.utils import timezone
from django_tasks import task


@task()
def print_batch(batch_id: int) -> str:
    """Print every patient's report of the batch, archive each copy and put them in one
    zip file. A batch already started is left alone (safe to run twice)."""
    from careloop.care.models import ReportBatch
    from careloop.care.report import print_report
    from careloop.patients.models import Patient

    batch = ReportBatch.objects.select_related("requested_by").get(pk=batch_id)
    claimed = ReportBatch.objects.filter(pk=batch_id, status=ReportBatch.Status.QUEUED).update(
        status=ReportBatch.Status.RUNNING
    )
    if not claimed:
        return batch.status
    patients = Patient.objects.in_bulk(batch.patient_ids)
    with tempfile.TemporaryFile() as spool:
        try:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as archive:
                for patient_id in batch.patient_ids:
                    patient = patients.get(patient_id)
                    if patient is not None:
                        copy = print_report(batch.requested_by, patient, batch)
                        with copy.file.open("rb") as pdf:
                            archive.writestr(f"{patient.card_number}.pdf", pdf.read())
                    batch.printed += 1
                    ReportBatch.objects.filter(pk=batch.pk).update(printed=batch.printed)
        except Exception as exc:
            batch.status, batch.message = ReportBatch.Status.FAILED, str(exc)[:300]
            batch.finished_at = timezone.now()
            batch.save(update_fields=["status", "message", "finished_at"])
            raise
        spool.seek(0)
        batch.archive.save(f"reports-{batch.pk}.zip", File(spool), save=False)
    batch.status, batch.finished_at = ReportBatch.Status.DONE, timezone.now()
    batch.save(update_fields=["status", "finished_at", "archive", "printed"])
    return batch.status

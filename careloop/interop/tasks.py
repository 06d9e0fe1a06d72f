"""Background jobs of the interfaces."""

from __future__ import annotations

from django_tasks import task


@task()
def run_import(job_id: int) -> str:
    """Run an uploaded spreadsheet import (safe to run twice: a finished job is left alone)."""
    from careloop.interop.importer.runner import Importer
    from careloop.interop.models import ImportJob

    job = ImportJob.objects.select_related("source__organisation", "created_by").get(pk=job_id)
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.UPLOADED):
        return job.status
    return Importer(job).run().status

"""Background jobs of the interfaces."""

from __future__ import annotations

from django_tasks import task


@task()
def run_import(job_id: int, language: str | None = None) -> str:
    """Run an uploaded spreadsheet import (safe to run twice: a finished job is left alone),
    in ``language``: what it says (why it failed, the error report) is read by the person who
    started it, on a page in that language."""
    from django.conf import settings
    from django.utils.translation import override

    from careloop.interop.importer.runner import Importer
    from careloop.interop.models import ImportJob

    job = ImportJob.objects.select_related("source__organisation", "created_by").get(pk=job_id)
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.UPLOADED):
        return job.status
    with override(language or settings.LANGUAGE_CODE):
        return Importer(job).run().status


@task()
def deliver_webhooks() -> dict[str, int]:
    """Send the webhook events that are due (enqueued when one is stored, and every minute
    by the scheduler for the tries after a wait)."""
    from careloop.interop.webhook_delivery import deliver

    return deliver()

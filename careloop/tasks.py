"""Housekeeping jobs run by the task worker, enqueued by the scheduler."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.utils import timezone
from django_tasks import task


@task()
def clear_expired_sessions() -> int:
    from django.contrib.sessions.models import Session

    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@task()
def prune_finished_jobs() -> None:
    """Results of finished background jobs are kept for 14 days; webhook deliveries
    delivered or given up, for 30 (``WEBHOOKS_KEPT``)."""
    from careloop.interop.webhook_delivery import prune

    call_command("prune_db_task_results", min_age_days=14, verbosity=0)
    prune()


@task()
def prune_login_logs() -> None:
    """django-axes access logs older than 90 days (failures stay until they expire)."""
    # axes prints its count ("No logs found.") whatever the verbosity: not to the console.
    call_command("axes_reset_logs", age=90, verbosity=0, stdout=StringIO())

"""Background jobs of follow-up: extending plans as time passes."""

from __future__ import annotations

from django_tasks import task


@task()
def extend_plans() -> dict[str, int]:
    """Create the tasks that came within the horizon and stop the plans of patients who
    died. Idempotent: run it as often as you like."""
    from careloop.followup.planning import extend_plans as extend

    return extend()

"""Background jobs of follow-up: extending plans as time passes, escalating alerts past
their deadline, raising alerts for overdue high-risk follow-ups and missed revisits."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def extend_plans() -> dict[str, int]:
    """Create the tasks that came within the horizon and stop the plans of patients who
    died. Idempotent: run it as often as you like."""
    from careloop.followup.planning import extend_plans as extend

    return extend()


@task()
def sweep_alerts() -> dict[str, int]:
    """Every minute: give critical-value alerts nobody owns an owner, escalate alerts past
    their deadline, raise alerts for high-risk follow-ups left overdue and for booked
    revisits the patient missed, close exam bookings an exam visit or report followed.
    Idempotent."""
    from careloop.followup.alert_flow import escalate_overdue, own_critical_values
    from careloop.followup.alert_sources import flag_missed_revisits, raise_overdue_alerts
    from careloop.followup.exam_packages import close_attended

    return {
        "owned": own_critical_values(),
        "escalated": escalate_overdue(),
        "overdue": raise_overdue_alerts(),
        "missed_revisits": flag_missed_revisits(),
        "exams_attended": close_attended(),
    }


@task()
def enrol_abnormal(patient_ids: list[int]) -> int:
    """Enrol these patients in the abnormal-result pathways their new results call for.
    Looked at first without a transaction: most batches enrol nobody (the patients are on
    the pathway already), and on SQLite a transaction takes the one write lock from its
    start, which the HL7 listener's acknowledgements then wait behind (~100 ms a job)."""
    from django.db import transaction

    from careloop.followup.triggers import on_abnormal

    if not on_abnormal(patient_ids, dry_run=True):
        return 0
    with transaction.atomic():
        return len(on_abnormal(patient_ids))


@task()
def enrol_eligible() -> dict[str, dict[str, int]]:
    """Nightly: enrol everyone a diagnosis-triggered pathway calls for who is not on it."""
    from careloop.followup.bulk_enrol import enrol_eligible as run

    return run()


@task()
def lost_risk_daily() -> dict[str, Any]:
    """Daily: the lost-to-follow-up model trained again when a week old, and the patients
    with open follow-ups scored (``followup.lost_risk``)."""
    from careloop.followup.lost_risk import daily

    return daily()

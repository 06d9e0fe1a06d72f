"""Background jobs of the rules: the scheduled sweep, risk re-assessed on birthdays."""

from __future__ import annotations

from django_tasks import task


@task()
def sweep_rules() -> int:
    """Run the scheduled rules ("no glucose reading for 3 days"); returns how many fired.
    Safe to run twice, also at once: a rule does not fire again for a patient within its
    quiet period (``engine.sweep``)."""
    from careloop.rules.engine import sweep

    return sweep()


@task()
def reassess_birthdays() -> int:
    """Daily: the models that read age (eGFR, China-PAR, CDRS, FINDRISC) run again for the
    patients whose age went up, and a score past its age range is closed; returns how many
    assessments were stored."""
    from careloop.rules.assessments import reassess_birthdays as run

    return run()


@task()
def reassess_organisation(organisation_id: int) -> int:
    """China-PAR again for an organisation's patients after its region or urban setting
    changed; returns how many assessments were stored."""
    from careloop.rules.assessments import reassess_organisation as run

    return run(organisation_id)

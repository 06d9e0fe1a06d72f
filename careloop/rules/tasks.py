"""Background jobs of the rules: the scheduled sweep."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from careloop.write_gate import write_gate


@task()
def sweep_rules() -> int:
    """Run the scheduled rules ("no glucose reading for 3 days"); returns how many fired.
    Safe to run twice: a rule does not fire again for a patient within its quiet period."""
    from careloop.rules.engine import sweep_matches
    from careloop.rules.firing import fire
    from careloop.rules.models import Trigger

    matches = sweep_matches()  # the reading, before the write lock
    with write_gate(), transaction.atomic():
        return fire(matches, trigger=Trigger.SWEEP)

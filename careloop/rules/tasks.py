"""Background jobs of the rules: the scheduled sweep."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from careloop.write_gate import write_gate


@task()
def sweep_rules() -> int:
    """Run the scheduled rules ("no glucose reading for 3 days"); returns how many fired.
    Safe to run twice: a rule does not fire again for a patient within its quiet period."""
    from careloop.rules.engine import sweep

    with write_gate(), transaction.atomic():
        return sweep()

"""The patients' background work: value tiers, daily."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def update_value_tiers() -> dict[str, Any]:
    """Every patient's value tier from their last 12 months (``value_tiers``)."""
    from careloop.patients.value_tiers import update_value_tiers as update

    return update()

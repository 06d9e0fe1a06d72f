"""What the dashboard tests build: tasks, alerts and contacts at chosen times in November
2026 (the period the tests count over)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from careloop.analytics.scope import Scope, parse_scope
from careloop.followup.models import Task

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return timezone.make_aware(datetime(2026, month, day, hour, minute))


def november(user: Any, **extra: str) -> Scope:
    return parse_scope(user, {**NOVEMBER, **extra})


def task(
    patient: Any,
    due: datetime,
    status: str = "open",
    *,
    closed: datetime | None = None,
    team: Any = None,
    assignee: Any = None,
    purpose: str = "condition_tracking",
) -> Task:
    return Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        team=team,
        assignee=assignee,
        title="出院第7天随访",
        purpose=purpose,
        channel="phone",
        channels=["phone"],
        due_at=due,
        deadline=due + timedelta(days=2),
        status=status,
        closed_at=closed,
    )

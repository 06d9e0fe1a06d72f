"""Series for the dashboard's charts: planned and done follow-ups per week, and open alerts
per team now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext as _

from careloop.analytics import rollup
from careloop.analytics.scope import Scope
from careloop.followup.models import OPEN_STATUSES, Alert


def weekly(scope: Scope) -> dict[str, Any]:
    """Planned and done per week (weeks start on the period's first day)."""
    weeks = (scope.last - scope.first).days // 7 + 1
    planned, done = [0] * weeks, [0] * weeks
    for day, (n, closed) in rollup.daily(scope).items():
        week = min(max((day - scope.first).days // 7, 0), weeks - 1)
        planned[week] += n
        done[week] += closed
    labels = [(scope.first + timedelta(days=7 * n)).isoformat() for n in range(weeks)]
    return {"labels": labels, "planned": planned, "done": done}


def open_alerts_by_team(scope: Scope) -> dict[str, Any]:
    rows = (
        Alert.objects.filter(scope.by_organisation(), status__in=OPEN_STATUSES)
        .values("patient__care_team__name")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    if scope.team is not None:
        rows = rows.filter(patient__care_team=scope.team)
    return {
        "labels": [r["patient__care_team__name"] or _("(no team)") for r in rows],
        "counts": [r["n"] for r in rows],
    }

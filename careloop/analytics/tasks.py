"""The dashboard's background work: keeping its follow-up counts fresh."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def refresh_dashboard() -> dict[str, Any]:
    """Apply the task changes noted since the last refresh (every minute, so the counts are
    never more than a few minutes behind even when nobody opens the dashboard)."""
    from careloop.analytics.rollup import refresh

    return refresh()

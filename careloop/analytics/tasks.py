"""The dashboard's background work: keeping its follow-up counts fresh."""

from __future__ import annotations

from typing import Any

from django_tasks import task

SLICE = 100_000  # changes applied in one transaction


@task()
def refresh_dashboard() -> dict[str, Any]:
    """Apply the task changes noted since the last refresh (every minute, so the counts are
    never more than a few minutes behind even when nobody opens the dashboard): in slices,
    never waiting on a refresh already running (the next minute's job goes on from there)."""
    from careloop.analytics.rollup import refresh

    done: dict[str, Any] = {"changes": 0, "rows": 0, "seconds": 0.0}
    while True:
        step = refresh(wait=False, limit=SLICE)
        for key in done:
            done[key] += step.get(key, 0)
        if step.get("skipped") or step["full"] or step["changes"] < SLICE:
            return {**done, "full": step["full"], "skipped": bool(step.get("skipped"))}

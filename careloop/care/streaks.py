"""Days in a row meeting a goal (连续达标天数), from the patient's daily reports: a
smoke-free streak (no cigarette reported, day after day) and the relapses (复吸: smoking
reported again after a smoke-free day).

A day counts by the patient's last report of it (a second report the same day corrects the
first). A day with no report is not counted as met: the run starts again after it (what
the patient did not say is not claimed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils import timezone


@dataclass
class Streak:
    days: int = 0  # in a row, to the latest report, each meeting the goal
    longest: int = 0
    relapses: int = 0  # times the goal was missed again after a day that met it
    last_relapse: date | None = None
    latest_day: date | None = None


def by_day(observations: list[Any]) -> dict[date, float]:
    """The last value reported on each day (``observations`` in time order)."""
    return {timezone.localtime(o.effective_at).date(): o.value for o in observations}


def streak_of(days: dict[date, float], meets: Any) -> Streak:
    """``meets(value)``: whether a day's value meets the goal."""
    out = Streak()
    before: tuple[date, bool] | None = None  # the previous reported day, and whether it met
    for day in sorted(days):
        ok = bool(meets(days[day]))
        if ok:
            follows = before is not None and before[1] and (day - before[0]).days == 1
            out.days = out.days + 1 if follows else 1
        else:
            if before is not None and before[1]:
                out.relapses += 1
                out.last_relapse = day
            out.days = 0
        out.longest = max(out.longest, out.days)
        before = (day, ok)
        out.latest_day = day
    return out

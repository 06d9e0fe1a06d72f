"""When a node's occurrences fall due (no Django imports): day offsets and recurrences from
the trigger, the risk × value frequency matrix, quiet hours and holidays."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from careloop.followup.definition import MAX_OCCURRENCES, Node


@dataclass(frozen=True)
class Frequency:
    every: str  # weekly / monthly
    interval: int
    count: int
    text: str
    day: int | None = None  # first occurrence (default: one period after the trigger)
    grace_days: int = 0


# DOMAIN.md F7 (seed 003), exactly: (risk, value) → frequency.
TIER_MATRIX: dict[tuple[str, str], Frequency] = {
    ("high", "high"): Frequency("weekly", 1, 4, "每周随访1次，持续1个月"),
    ("high", "medium"): Frequency("weekly", 1, 2, "每周随访1次，持续2周"),
    ("medium", "high"): Frequency("weekly", 2, 2, "每2周随访1次，持续1个月"),
    ("medium", "medium"): Frequency("weekly", 2, 1, "每2周随访1次，持续2周"),
    ("low", "high"): Frequency("monthly", 1, 3, "每月随访1次，持续3个月"),
    ("low", "medium"): Frequency("monthly", 1, 2, "每月随访1次，持续2个月"),
    ("low", "low"): Frequency("weekly", 1, 1, "出院1个月内随访1次", day=7, grace_days=23),
}
# Not in the table: a low-value patient is followed as the medium-value one of the same risk
# (risk decides how often; value only adds contacts). An unstratified patient counts as low
# risk and medium value: no billing data says otherwise.
TIER_MATRIX[("high", "low")] = TIER_MATRIX[("high", "medium")]
TIER_MATRIX[("medium", "low")] = TIER_MATRIX[("medium", "medium")]


def tier_key(risk: str, value: str) -> tuple[str, str]:
    return (risk or "low", value or "medium")


def frequency_for(risk: str, value: str) -> Frequency:
    return TIER_MATRIX[tier_key(risk, value)]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _step(start: date, every: str, interval: int, i: int) -> date:
    if every == "daily":
        return start + timedelta(days=i * interval)
    if every == "weekly":
        return start + timedelta(weeks=i * interval)
    return add_months(start, i * interval * (3 if every == "quarterly" else 1))


def _period_days(every: str, interval: int) -> int:
    return {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91}[every] * interval


def occurrence_days(
    node: Node, anchor: date, *, risk: str = "", value: str = ""
) -> list[tuple[date, int]]:
    """Every occurrence of a scheduled node as (due day, grace days), in order. Programme
    nodes are scheduled one visit at a time (``programme_next``), not here."""
    if node.every == "programme":
        return []
    if not node.every:
        return [(anchor + timedelta(days=node.day), node.grace_days)]
    every, interval, count, grace = node.every, node.interval, node.count, node.grace_days
    first = node.day
    if every == "tier_matrix":
        freq = frequency_for(risk, value)
        every, interval, count = freq.every, freq.interval, freq.count
        first = freq.day if freq.day is not None else _period_days(every, interval)
        grace = max(grace, freq.grace_days)
    start = anchor + timedelta(days=first)
    last = None
    if node.for_days is not None:
        last = anchor + timedelta(days=node.for_days)
    if node.until is not None:
        last = min(last, node.until) if last else node.until
    days = []
    for i in range(count or MAX_OCCURRENCES):
        day = _step(start, every, interval, i)
        if last is not None and day > last:
            break
        days.append((day, grace))
    return days


def programme_next(last_visit: date, max_days: int) -> date:
    """The next chronic-programme visit: at most ``max_days`` after the last one (14 when
    not controlled, an adverse reaction or a complication; 90 when controlled)."""
    return last_visit + timedelta(days=max_days)


def in_quiet(moment: time, start: time, end: time) -> bool:
    """Whether ``moment`` falls in quiet hours from ``start`` to ``end`` (may span midnight)."""
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def next_working_day(day: date, holidays: Collection[date]) -> date:
    while day in holidays:
        day += timedelta(days=1)
    return day


def due_window(
    day: date,
    node: Node,
    tz: tzinfo,
    *,
    quiet: tuple[time, time] | None = None,
    holidays: Collection[date] = (),
    grace_days: int | None = None,
) -> tuple[datetime, datetime]:
    """(due at, latest) for an occurrence on ``day``: at the start of the node's window,
    moved off holidays (unless the node says otherwise) and out of the patient's quiet
    hours; latest is the window's end ``grace_days`` later."""
    if node.skip_holidays:
        day = next_working_day(day, holidays)
    start, end = node.window
    due = datetime.combine(day, start, tz)
    if quiet is not None and in_quiet(start, *quiet):
        moved = datetime.combine(day, quiet[1], tz)
        due = moved if moved >= due else moved + timedelta(days=1)
    grace = node.grace_days if grace_days is None else grace_days
    latest = datetime.combine(day + timedelta(days=grace), end, tz)
    return due, max(latest, due + timedelta(hours=1))


def due_by(
    day: date,
    node: Node,
    tz: tzinfo,
    *,
    quiet: tuple[time, time] | None = None,
    holidays: Collection[date] = (),
) -> tuple[datetime, datetime]:
    """(due at, latest) for an occurrence that must happen by ``day`` (a chronic programme's
    next visit: "within 2 weeks", "within 3 months", REFERENCE §1): a holiday moves it to
    the working day before, never after, and it is late once ``day`` has passed."""
    working = day
    if node.skip_holidays:
        while working in holidays:
            working -= timedelta(days=1)
    due, _ = due_window(working, node, tz, quiet=quiet, grace_days=0)
    latest = datetime.combine(day, node.window[1], tz)
    return due, max(latest, due + timedelta(hours=1))


def retry_at(
    after: datetime, window: tuple[time, time], quiet: tuple[time, time] | None
) -> datetime:
    """Another time for a call nobody answered: the other half of the day's window when it
    is still to come, else the next morning; never in quiet hours."""
    start, end = window
    middle = time((start.hour + end.hour) // 2)
    tz = after.tzinfo
    today = after.date()
    candidates = [
        datetime.combine(today, middle, tz),
        datetime.combine(today + timedelta(days=1), start, tz),
        datetime.combine(today + timedelta(days=1), middle, tz),
    ]
    for moment in candidates:
        if moment > after + timedelta(hours=2) and not (quiet and in_quiet(moment.time(), *quiet)):
            return moment
    return datetime.combine(today + timedelta(days=1), quiet[1] if quiet else start, tz)

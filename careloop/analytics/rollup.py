"""Pre-aggregated follow-up counts (``TaskDay``): planned, done and on time per organisation
and local day and month, with the distinct patients behind them as Roaring bitmaps, so the
dashboard sums a few hundred rows for a city's year instead of scanning millions of tasks.
Teams and people are counted from the tasks themselves (their indexes keep that quick).

Kept fresh incrementally: triggers on the task table write each counted task as it was and
as it is (``TaskChange``, −1 and +1); ``refresh`` adds those up into the day and month
counts, and for the patients they name sets their place in the bitmaps from their tasks
now. It runs every minute from the scheduler and, before the dashboard reads the counts,
for whatever is still pending, so a figure equals the length of the list it drills down to.
The counts follow ``sources.planned``: tasks due in the period, not cancelled; done; done by
the task's latest time; reminded = done revisit reminders."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from pyroaring import BitMap

from careloop.analytics import sources
from careloop.analytics.models import RollupState, TaskChange, TaskDay
from careloop.analytics.scope import Scope
from careloop.followup.models import Task

DAY, MONTH = "d", "m"
REMINDER = "revisit_reminder"
CHUNK = 20_000
PATIENTS_PER_QUERY = 5_000
READ_LIMIT = 50_000  # changes applied before a dashboard read; the job takes the rest
LOCK_ID = 0x7A5C_0D15  # PostgreSQL advisory lock: one refresh at a time

Key = tuple[int, str, date]  # organisation, span, day
BITMAPS = ("planned_patients", "covered_patients", "reminded_patients")
STORED = ("planned", "done", "on_time", *BITMAPS)


@dataclass
class Tally:
    planned: int = 0
    done: int = 0
    on_time: int = 0
    bitmaps: tuple[BitMap, BitMap, BitMap] = field(
        default_factory=lambda: (BitMap(), BitMap(), BitMap())
    )

    def count(self, patient: int, done: bool, on_time: bool, reminder: bool) -> None:
        self.planned += 1
        self.bitmaps[0].add(patient)
        if done:
            self.done += 1
            self.on_time += on_time
            self.bitmaps[1].add(patient)
            if reminder:
                self.bitmaps[2].add(patient)

    def add(self, other: Tally) -> None:
        self.planned += other.planned
        self.done += other.done
        self.on_time += other.on_time
        for mine, theirs in zip(self.bitmaps, other.bitmaps, strict=True):
            mine |= theirs

    @classmethod
    def stored(cls, row: Sequence[Any]) -> Tally:
        planned, done, on_time, *maps = row
        bitmaps = tuple(BitMap.deserialize(bytes(m)) for m in maps)
        return cls(planned, done, on_time, bitmaps)  # type: ignore[arg-type]

    def store(self, row: TaskDay) -> TaskDay:
        row.planned, row.done, row.on_time = self.planned, self.done, self.on_time
        for name, bitmap in zip(BITMAPS, self.bitmaps, strict=True):
            setattr(row, name, bitmap.serialize())
        return row


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock.min))


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _keys(organisation: int, day: date) -> tuple[Key, Key]:
    return (organisation, DAY, day), (organisation, MONTH, day.replace(day=1))


def _counted(tasks: QuerySet[Task]) -> QuerySet[Any]:
    """(organisation, due time, patient, status, on time, purpose) of counted tasks."""
    return (
        tasks.exclude(status=Task.Status.CANCELLED)
        .order_by()
        .annotate(in_time=ExpressionWrapper(Q(closed_at__lte=F("deadline")), BooleanField()))
        .values_list("organisation_id", "due_at", "patient_id", "status", "in_time", "purpose")
    )


def _tally(rows: Iterable[Sequence[Any]]) -> dict[Key, Tally]:
    tallies: dict[Key, Tally] = defaultdict(Tally)
    done_status, here = Task.Status.DONE, timezone.get_current_timezone()
    for organisation, due_at, patient, status, in_time, purpose in rows:
        done = status == done_status
        for key in _keys(organisation, due_at.astimezone(here).date()):
            tallies[key].count(patient, done, done and bool(in_time), purpose == REMINDER)
    return tallies


def _rebuild() -> int:
    TaskDay.objects.all().delete()
    tallies = _tally(_counted(Task.objects.all()).iterator(chunk_size=CHUNK))
    rows = [
        tally.store(TaskDay(organisation_id=organisation, span=span, day=day))
        for (organisation, span, day), tally in tallies.items()
    ]
    return len(TaskDay.objects.bulk_create(rows, batch_size=1000))


# -- applying changes ---------------------------------------------------------------------


@dataclass
class Delta:
    planned: int = 0
    done: int = 0
    on_time: int = 0
    patients: set[int] = field(default_factory=set)


def _deltas(changes: Iterable[Sequence[Any]]) -> dict[Key, Delta]:
    deltas: dict[Key, Delta] = defaultdict(Delta)
    here = timezone.get_current_timezone()
    for sign, organisation, patient, due_at, status, on_time in changes:
        done = status == Task.Status.DONE
        for key in _keys(organisation, due_at.astimezone(here).date()):
            delta = deltas[key]
            delta.planned += sign
            delta.done += sign * done
            delta.on_time += sign * (done and bool(on_time))
            delta.patients.add(patient)
    return deltas


def _members_now(deltas: dict[Key, Delta]) -> dict[Key, Tally]:
    """For the patients each changed day or month names: where their tasks now put them."""
    patients = sorted({p for delta in deltas.values() for p in delta.patients})
    months = [day for (_org, span, day) in deltas if span == MONTH]
    window = Q(due_at__gte=_midnight(min(months)), due_at__lt=_midnight(_next_month(max(months))))
    now: dict[Key, Tally] = defaultdict(Tally)
    here = timezone.get_current_timezone()
    for start in range(0, len(patients), PATIENTS_PER_QUERY):
        chosen = patients[start : start + PATIENTS_PER_QUERY]
        for row in _counted(Task.objects.filter(window, patient_id__in=chosen)):
            organisation, day, patient = row[0], row[1].astimezone(here).date(), row[2]
            for key in _keys(organisation, day):
                if key in deltas and patient in deltas[key].patients:
                    now[key].count(patient, row[3] == Task.Status.DONE, False, row[5] == REMINDER)
    return now


def _apply(changes: list[Sequence[Any]]) -> int:
    deltas = _deltas(changes)
    now = _members_now(deltas)
    by_organisation: dict[int, set[date]] = defaultdict(set)
    for organisation, _span, day in deltas:
        by_organisation[organisation].add(day)
    wanted = reduce(
        or_, (Q(organisation_id=o, day__in=days) for o, days in by_organisation.items())
    )
    stored = {(r.organisation_id, r.span, r.day): r for r in TaskDay.objects.filter(wanted)}
    changed, created = [], []
    for key, delta in deltas.items():
        row = stored.get(key)
        if row is None:
            row = TaskDay(organisation_id=key[0], span=key[1], day=key[2])
            tally = Tally()
            created.append(row)
        else:
            tally = Tally.stored([getattr(row, name) for name in STORED])
            changed.append(row)
        tally.planned += delta.planned
        tally.done += delta.done
        tally.on_time += delta.on_time
        present = now.get(key, Tally())
        for bitmap, members in zip(tally.bitmaps, present.bitmaps, strict=True):
            bitmap -= BitMap(delta.patients)
            bitmap |= members
        tally.store(row)
    # Written again rather than updated: two statements instead of Django's CASE per row.
    TaskDay.objects.filter(pk__in=[row.pk for row in changed]).delete()
    for row in changed:
        row.pk = None
    TaskDay.objects.bulk_create([*changed, *created], batch_size=500)
    return len(changed) + len(created)


# -- refreshing ---------------------------------------------------------------------------


@contextmanager
def _one_at_a_time(wait: bool) -> Iterator[bool]:
    """Hold the refresh lock (yields False when ``wait`` is false and another holds it).
    PostgreSQL: a session advisory lock taken before the transaction, so the transaction's
    snapshot already sees everything an earlier refresh committed. SQLite: transactions
    take the write lock at BEGIN (``transaction_mode`` IMMEDIATE)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_ID])
            held = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_ID])
            held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])


def _one_snapshot() -> None:
    """The changes read and the tasks counted come from the same snapshot (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _forget(ids: list[int], one_snapshot: bool) -> None:
    """Delete the changes applied. In one snapshot (PostgreSQL's repeatable read, SQLite's
    write lock) a range deletes just those: rows committed since are not visible to it."""
    if not ids:
        return
    if one_snapshot or connection.vendor != "postgresql":
        TaskChange.objects.filter(pk__gte=ids[0], pk__lte=ids[-1]).delete()
        return
    for start in range(0, len(ids), 10_000):
        TaskChange.objects.filter(pk__in=ids[start : start + 10_000]).delete()


def refresh(*, full: bool = False, wait: bool = True, limit: int | None = None) -> dict[str, Any]:
    """Apply the noted task changes (or count everything again: ``full``, or never built).
    Returns ``full``, ``changes`` applied, ``rows`` written and ``seconds``."""
    started = time.perf_counter()
    result: dict[str, Any] = {"full": False, "changes": 0, "rows": 0}
    with _one_at_a_time(wait) as held:
        if not held:
            return {**result, "seconds": 0.0, "skipped": True}
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost:  # inside a caller's transaction, its snapshot rules
                _one_snapshot()
            state, _ = RollupState.objects.get_or_create(pk=1)
            full = full or state.built_at is None
            noted = TaskChange.objects.order_by("pk").values_list(
                "pk", "sign", "organisation_id", "patient_id", "due_at", "status", "on_time"
            )
            pending = list(noted if full else noted[: limit or None])
            if full:
                result["rows"] = _rebuild()
                state.built_at = timezone.now()
            elif pending:
                result["rows"] = _apply([change[1:] for change in pending])
            _forget([change[0] for change in pending], one_snapshot=outermost)
            if full or pending:
                state.stamp = uuid.uuid4()
                state.refreshed_at = timezone.now()
                state.save()
    result.update(full=full, changes=len(pending))
    return {**result, "seconds": round(time.perf_counter() - started, 3)}


def ensure_fresh() -> bool:
    """Before reading: apply what is pending, unless another refresh is doing it. True when
    nothing is left pending (the kept counts are exact now)."""
    built = RollupState.objects.filter(pk=1, built_at__isnull=False).exists()
    if not built or TaskChange.objects.exists():
        refresh(wait=not built, limit=READ_LIMIT)
        return not TaskChange.objects.exists()
    return True


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    planned: int
    done: int
    on_time: int
    planned_patients: int
    covered_patients: int
    reminded: int


COUNTS = frozenset(Totals.__dataclass_fields__)


def _in(first: date, last: date) -> Q:
    return Q(day__gte=first, day__lte=last)


def _stored_rows(scope: Scope) -> QuerySet[TaskDay]:
    """The organisations' rows that add up to the period: months where it covers whole
    months, days elsewhere."""
    rows = TaskDay.objects.filter(scope.by_organisation())
    whole: list[date] = []
    month = scope.first if scope.first.day == 1 else _next_month(scope.first)
    while _next_month(month) - timedelta(days=1) <= scope.last:
        whole.append(month)
        month = _next_month(month)
    if not whole:
        return rows.filter(_in(scope.first, scope.last), span=DAY)
    head = _in(scope.first, whole[0] - timedelta(days=1))
    tail = _in(_next_month(whole[-1]), scope.last)
    return rows.filter(Q(span=MONTH, day__in=whole) | Q(head | tail, span=DAY))


def count_tasks(scope: Scope) -> Totals:
    """A team's or a person's counts, by one aggregate over their tasks (a few thousand
    rows a year, found through the task table's team and assignee indexes); for an
    organisation, the plain aggregate the kept counts replace."""
    done = Q(status=Task.Status.DONE)
    found = sources.planned(scope).aggregate(
        planned=Count("pk"),
        done=Count("pk", filter=done),
        on_time=Count("pk", filter=done & Q(closed_at__lte=F("deadline"))),
        planned_patients=Count("patient_id", distinct=True),
        covered_patients=Count("patient_id", distinct=True, filter=done),
        reminded=Count("patient_id", distinct=True, filter=done & Q(purpose=REMINDER)),
    )
    return Totals(**found)


def _totals(whole: Tally) -> Totals:
    planned, covered, reminded = (len(bitmap) for bitmap in whole.bitmaps)
    return Totals(whole.planned, whole.done, whole.on_time, planned, covered, reminded)


_cache: OrderedDict[tuple[Scope, uuid.UUID | None], Totals] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 256


def totals(scope: Scope) -> Totals:
    """The six counts for the scope, the same as counting its lists. Cached in the process
    until the next refresh that changes anything (pending changes are applied first, so the
    stamp moves whenever a task the counts depend on did). When changes are still pending
    (another refresh holds the lock, or more than ``READ_LIMIT`` of them), counted from the
    tasks instead, so the figure still equals its list."""
    if not ensure_fresh():
        return count_tasks(scope)
    stamp = RollupState.objects.filter(pk=1).values_list("stamp", flat=True).first()
    key = (scope, stamp)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if scope.team is not None or scope.person is not None:
        found = count_tasks(scope)
    else:
        whole = Tally()
        for row in _stored_rows(scope).values_list(*STORED):
            whole.add(Tally.stored(row))
        found = _totals(whole)
    with _cache_lock:
        _cache[key] = found
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _daily_from_tasks(scope: Scope) -> dict[date, tuple[int, int]]:
    days = (
        sources.planned(scope)
        .order_by()
        .annotate(day=TruncDate("due_at"))
        .values("day")
        .annotate(n=Count("pk"), done=Count("pk", filter=Q(status=Task.Status.DONE)))
    )
    return {row["day"]: (row["n"], row["done"]) for row in days}


def daily(scope: Scope) -> dict[date, tuple[int, int]]:
    """Planned and done per day of the period (for the weekly chart)."""
    if scope.team is not None or scope.person is not None:
        return _daily_from_tasks(scope)
    if not ensure_fresh():
        return _daily_from_tasks(scope)
    rows = TaskDay.objects.filter(scope.by_organisation(), _in(scope.first, scope.last), span=DAY)
    summed: dict[date, tuple[int, int]] = {}
    for day, planned, done in rows.values_list("day", "planned", "done"):
        before = summed.get(day, (0, 0))
        summed[day] = (before[0] + planned, before[1] + done)
    return summed

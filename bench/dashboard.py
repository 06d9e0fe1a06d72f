"""Workload (issue 7): the dashboard over a city's year of follow-ups.

    .venv/bin/python bench/dashboard.py --patients 100000                            # SQLite
    scripts/with-postgres.sh .venv/bin/python bench/dashboard.py --postgres --patients 1000000

A city (one root organisation, 20 community centres below it, 10 teams of 10 nurses each:
one nurse per 500 residents), ``--patients`` residents with ten follow-up tasks each over
the past year and the coming month (75% done, 90% of those on time; 8% not reached; 5%
cancelled; 7% open, some overdue), every task assigned to a nurse of the resident's team.
Tasks are written with the change triggers switched off (a bulk load), then:

* the full build of the kept counts (``careloop dashboard refresh --full``): seconds, rows,
  peak memory;
* every panel for five scopes (the city over the year, one centre over the year and the
  last 30 days, one team and one nurse over the year): cold (a new database connection and
  an empty cache, first call) and warm (median and slowest of 10 calls), in milliseconds;
* the baseline, in the same run: the task panels' counts by a plain aggregate (COUNT,
  COUNT DISTINCT) over the task table for the same scopes, checked equal to the kept counts;
* incremental refresh after 10,000 new events (5,000 open tasks closed, 5,000 new tasks
  for the coming days), then the counts checked against the task table again.

Targets (1,000,000 residents, 10,000,000 tasks, PostgreSQL): every panel ≤ 200 ms warm and
≤ 2 s cold; refresh after 10,000 events < 1 s.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hl7_ingest import database_in_use  # noqa: E402
from bench.worklist import TASK_FIELDS  # noqa: E402

CENTRES = 20
TEAMS_PER_CENTRE = 10
TEAM_SIZE = 10
CHUNK = 50_000
EVENTS = 10_000
WARM_CALLS = 10
TARGET = "every panel ≤ 200 ms warm, ≤ 2 s cold; refresh after 10,000 events < 1 s"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _triggers(enabled: bool) -> None:
    """Switch the task table's change triggers off for the bulk load, and on again."""
    from importlib import import_module

    from django.db import connection

    made = import_module("careloop.analytics.migrations.0003_task_change_triggers")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            state = "ENABLE" if enabled else "DISABLE"
            cursor.execute(f"ALTER TABLE followup_task {state} TRIGGER USER")
        else:  # SQLite cannot switch a trigger off: drop and make them again
            for statement in made.SQLITE if enabled else made.SQLITE_DROP:
                cursor.execute(statement)


def _task(rng: random.Random, patient: int, org: int, team: int, nurse: int, n: int, now: Any):
    draw = rng.random()
    if draw < 0.88:  # due in the past year: done (on time or late), not reached, cancelled
        due = now - timedelta(days=rng.randint(1, 365), hours=rng.randint(0, 23))
        deadline = due + timedelta(days=2)
        if draw < 0.75:
            closed = due + timedelta(days=1 if rng.random() < 0.9 else 5)
            status = "done"
        elif draw < 0.83:
            status, closed = "failed", due + timedelta(days=2)
        else:
            status, closed = "cancelled", due - timedelta(days=1)
    else:  # open: the coming month, or overdue
        due = now + timedelta(hours=rng.randint(-24 * 20, 24 * 30))
        status, deadline, closed = "open", due + timedelta(days=2), None
    outcome = {"done": "reached", "failed": "no_answer"}.get(status, "")
    return (
        patient,
        org,
        team,
        f"n{n}",
        0,
        n,
        "随访",
        "condition_tracking",
        "phone",
        ["phone", "sms"],
        "symptom_check",
        "nurse",
        nurse,
        due,
        deadline,
        status,
        0,
        outcome,
        "",
        now,
        closed,
    )


def load(patients: int) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from careloop.accounts.models import Organisation, Team, User
    from careloop.bulk import insert_returning_ids, insert_rows, model_row
    from careloop.followup.models import Task
    from careloop.patients.models import Patient

    rng = random.Random(11)
    now = timezone.now()
    city = Organisation.objects.create(code="BENCH-CITY", name="市医联体", kind="hospital")
    centres = [
        Organisation.objects.create(
            code=f"BENCH-C{n:02d}", name=f"社区中心{n:02d}", kind="community_centre", parent=city
        )
        for n in range(CENTRES)
    ]
    teams = [
        Team.objects.create(organisation=centre, name=f"随访{n}组")
        for centre in centres
        for n in range(TEAMS_PER_CENTRE)
    ]
    password = make_password("correct horse battery")
    user_fields = [f.attname for f in User._meta.concrete_fields if not f.primary_key]
    nurses: dict[int, list[int]] = {}
    for team in teams:
        rows = [
            model_row(
                User,
                user_fields,
                {
                    "username": f"b{team.pk}-{n}",
                    "display_name": f"护士{team.pk}-{n}",
                    "password": password,
                    "organisation_id": team.organisation_id,
                    "is_active": True,
                    "is_staff": False,
                    "is_superuser": False,
                    "date_joined": now,
                    "last_login": None,
                },
                now=now,
            )
            for n in range(TEAM_SIZE)
        ]
        nurses[team.pk] = insert_returning_ids(User, user_fields, rows)
    patient_fields = [f.attname for f in Patient._meta.concrete_fields if not f.primary_key]
    _triggers(enabled=False)
    started = time.perf_counter()
    for begin in range(0, patients, CHUNK):
        count = min(CHUNK, patients - begin)
        with transaction.atomic():
            rows = []
            for i in range(begin, begin + count):
                team = teams[i * len(teams) // patients]
                values = {
                    "card_number": f"8{i:011d}",
                    "name": f"居民{i:07d}",
                    "sex": "female" if i % 2 else "male",
                    "birth_date": now.date().replace(year=1940 + i % 50),
                    "organisation_id": team.organisation_id,
                    "care_team_id": team.pk,
                    "risk_tier": rng.choice(["high", "medium", "low", ""]),
                    "preferred_channel": "phone",
                }
                rows.append(model_row(Patient, patient_fields, values, now=now))
            insert_rows(Patient, patient_fields, rows)
            found = (
                Patient.objects.filter(card_number__gte=f"8{begin:011d}")
                .order_by("pk")
                .values_list("pk", "organisation_id", "care_team_id")[:count]
            )
            insert_rows(
                Task,
                TASK_FIELDS,
                (
                    _task(rng, pk, org, team, rng.choice(nurses[team]), n, now)
                    for pk, org, team in found
                    for n in range(10)
                ),
            )
        done = begin + count
        print(
            f"\r  {done:,}/{patients:,} residents, {done * 10:,} tasks "
            f"({done / (time.perf_counter() - started):,.0f} residents/s)",
            end="",
            flush=True,
        )
    print(flush=True)
    _triggers(enabled=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    team = teams[0]
    return {
        "city": city,
        "centre": centres[0],
        "team": team,
        "nurse": User.objects.get(pk=nurses[team.pk][0]),
        "seconds": round(time.perf_counter() - started, 1),
    }


def scopes(loaded: dict[str, Any]) -> dict[str, Any]:
    from django.utils import timezone

    from careloop.analytics.scope import Scope

    today = timezone.localdate()
    year = today - timedelta(days=364)
    return {
        "city, year": Scope(year, today, loaded["city"]),
        "centre, year": Scope(year, today, loaded["centre"]),
        "centre, 30 days": Scope(today - timedelta(days=29), today, loaded["centre"]),
        "team, year": Scope(year, today, loaded["centre"], team=loaded["team"]),
        "nurse, year": Scope(year, today, loaded["centre"], person=loaded["nurse"]),
    }


def panels() -> dict[str, Callable[[Any], Any]]:
    from careloop.analytics import charts, metrics, national

    out: dict[str, Callable[[Any], Any]] = {p.__name__: p for p in metrics.PANELS}
    out["connect_rates"] = metrics.connect_rates
    out["national"] = national.figures
    out["chart: weekly"] = charts.weekly
    out["chart: open alerts by team"] = charts.open_alerts_by_team
    return out


def _ms(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure_panels(all_scopes: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from careloop.analytics import rollup

    out: dict[str, Any] = {}
    for name, scope in all_scopes.items():
        connection.close()  # cold: a new connection, nothing cached in the process
        rollup._cache.clear()
        figures: dict[str, Any] = {}
        for panel, call in panels().items():
            cold = _ms(partial(call, scope))
            warm = [_ms(partial(call, scope)) for _ in range(WARM_CALLS)]
            figures[panel] = {
                "cold_ms": round(cold, 1),
                "warm_p50_ms": round(statistics.median(warm), 1),
                "warm_max_ms": round(max(warm), 1),
            }
        out[name] = figures
    return out


def measure_baseline(all_scopes: dict[str, Any]) -> dict[str, Any]:
    from careloop.analytics import rollup

    out = {}
    for name, scope in all_scopes.items():
        rollup._cache.clear()
        kept_ms = _ms(partial(rollup.totals, scope))
        started = time.perf_counter()
        raw = rollup.count_tasks(scope)  # COUNT and COUNT DISTINCT over the tasks
        raw_ms = (time.perf_counter() - started) * 1000
        kept = rollup.totals(scope)
        out[name] = {
            "kept_ms": round(kept_ms, 1),
            "plain_aggregate_ms": round(raw_ms, 1),
            "ratio": round(raw_ms / kept_ms, 1) if kept_ms else None,
            "equal": kept == raw,
            "planned": kept.planned,
        }
    return out


def new_events(loaded: dict[str, Any]) -> None:
    """10,000 events: half closing open tasks due around today, half new tasks."""
    from django.db import transaction
    from django.utils import timezone

    from careloop.bulk import insert_rows
    from careloop.followup.models import Task

    rng = random.Random(3)
    now = timezone.now()
    near = Task.objects.filter(status="open", due_at__lt=now + timedelta(days=2)).order_by()
    ids = list(near.values_list("pk", flat=True)[: EVENTS // 2])
    rows = list(
        Task.objects.filter(status="open")
        .order_by()
        .values_list("patient_id", "organisation_id", "team_id", "assignee_id")[: EVENTS // 2]
    )
    with transaction.atomic():
        for start in range(0, len(ids), 500):
            Task.objects.filter(pk__in=ids[start : start + 500]).update(
                status="done", outcome="reached", closed_at=now
            )
        fresh = []
        for n, (patient, org, team, nurse) in enumerate(rows):
            row = list(_task(rng, patient, org, team, nurse, 100 + n, now))
            row[13] = now + timedelta(hours=rng.randint(1, 24 * 7))  # due in the coming week
            row[14], row[15], row[20] = row[13] + timedelta(days=2), "open", None
            fresh.append(row)
        insert_rows(Task, TASK_FIELDS, fresh)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="use CARELOOP_DATABASE_URL")
    args = parser.parse_args()
    _, _env, label = database_in_use("dashboard", postgres=args.postgres, seed_patients=0)
    print(f"dashboard on {label}: loading {args.patients:,} residents …", flush=True)
    loaded = load(args.patients)

    from careloop.analytics import rollup

    build = rollup.refresh(full=True)
    build_peak = peak_mib()
    print(f"  full build: {build}", flush=True)
    all_scopes = scopes(loaded)
    measured = measure_panels(all_scopes)
    baseline = measure_baseline(all_scopes)
    new_events(loaded)
    incremental = rollup.refresh()
    after = {name: rollup.count_tasks(s) == rollup.totals(s) for name, s in all_scopes.items()}
    worst_warm = max(p["warm_p50_ms"] for f in measured.values() for p in f.values())
    worst_cold = max(p["cold_ms"] for f in measured.values() for p in f.values())
    print(
        json.dumps(
            {
                "database": label,
                "residents": args.patients,
                "tasks": args.patients * 10,
                "load_seconds": loaded["seconds"],
                "full_build": {**build, "peak_mib": round(build_peak)},
                "panels": measured,
                "baseline_task_counts": baseline,
                "incremental_after_10000_events": incremental,
                "equal_after_refresh": after,
                "slowest_panel_warm_p50_ms": worst_warm,
                "slowest_panel_cold_ms": worst_cold,
                "target": TARGET,
                "met": worst_warm <= 200 and worst_cold <= 2000 and incremental["seconds"] < 1,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

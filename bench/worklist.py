"""Workload (issue 5): the nurse's first worklist page under load.

    .venv/bin/python bench/worklist.py [--patients 100000]                         # SQLite
    scripts/with-postgres.sh .venv/bin/python bench/worklist.py --postgres --patients 1000000

Residents (``--patients``), ten follow-up tasks each (80% done, 15% open and not yet late,
5% overdue), one staff member per 500 residents (2,000 for 1,000,000) in teams of ten, a
team per 5,000 residents, each open task assigned to a team member; 1% of the residents with
an open alert. Then, for ``--seconds``:

* 4 concurrent users, each a different nurse with a session, load their first worklist page
  (``/worklist/?scope=mine&section=due``: the priority score over their open tasks, 50 rows
  rendered) over keep-alive HTTP from gunicorn (2 workers) — pages/s and latency;
* beside them, 200 task updates a second (an attempt moving a task's due time), from another
  process.

Then the first page's 50 tasks through the ORM alone (the worklist queryset, no template),
and the baseline, in the same run: the same statement as raw SQL (4 threads with their own
connections) — queries/s and latency.

Targets: p99 ≤ 30 ms and ≥ 500 pages/s (1,000,000 residents, 10,000,000 tasks, PostgreSQL).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hl7_ingest import database_in_use  # noqa: E402

USERS = 4
UPDATES_PER_S = 200
CHUNK = 50_000
TASK_FIELDS = [
    "patient_id",
    "organisation_id",
    "team_id",
    "node",
    "revision",
    "occurrence",
    "title",
    "purpose",
    "channel",
    "channels",
    "form",
    "assignee_role",
    "assignee_id",
    "due_at",
    "deadline",
    "status",
    "attempts",
    "outcome",
    "cancel_reason",
    "created_at",
    "closed_at",
]


def load(patients: int) -> dict[str, Any]:
    """Residents, staff, teams, tasks and alerts as described above; returns the nurses'
    ids and the open task ids (for the updater)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from careloop.accounts.models import Organisation, Team, User
    from careloop.bulk import insert_returning_ids, insert_rows, model_row
    from careloop.followup.models import Alert, Task
    from careloop.patients.models import Patient

    rng = random.Random(5)
    now = timezone.now()
    org = Organisation.objects.get(code="DEMO-H1")
    staff_count = max(USERS, patients // 500)
    teams = [
        Team.objects.create(organisation=org, name=f"随访组{n:04d}")
        for n in range(max(1, staff_count // 10))
    ]
    nurse = Group.objects.get(name="nurse")
    password = make_password("correct horse battery")
    user_fields = [f.attname for f in User._meta.concrete_fields if not f.primary_key]
    user_rows = [
        model_row(
            User,
            user_fields,
            {
                "username": f"n{n:05d}",
                "display_name": f"护士{n:05d}",
                "password": password,
                "organisation_id": org.pk,
                "is_active": True,
                "is_staff": False,
                "is_superuser": False,
                "date_joined": now,
                "last_login": None,
            },
            now=now,
        )
        for n in range(staff_count)
    ]
    user_ids = insert_returning_ids(User, user_fields, user_rows)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=pk, group_id=nurse.pk) for pk in user_ids], batch_size=5000
    )
    User.teams.through.objects.bulk_create(
        [
            User.teams.through(user_id=pk, team_id=teams[i // 10 % len(teams)].pk)
            for i, pk in enumerate(user_ids)
        ],
        batch_size=5000,
    )
    members = {team.pk: user_ids[i * 10 : i * 10 + 10] for i, team in enumerate(teams)}

    patient_fields = [f.attname for f in Patient._meta.concrete_fields if not f.primary_key]
    open_ids: list[int] = []
    started = time.perf_counter()
    for begin in range(0, patients, CHUNK):
        count = min(CHUNK, patients - begin)
        with transaction.atomic():
            rows = []
            for i in range(begin, begin + count):
                team = teams[i * len(teams) // patients]
                values = {
                    "card_number": f"9{i:011d}",
                    "name": f"居民{i:07d}",
                    "sex": "female" if i % 2 else "male",
                    "birth_date": now.date().replace(year=1940 + i % 50),
                    "organisation_id": org.pk,
                    "care_team_id": team.pk,
                    "quiet_hours_start": clock_time(21),
                    "quiet_hours_end": clock_time(8),
                    "risk_tier": rng.choice(["high", "medium", "low", ""]),
                    "value_tier": rng.choice(["high", "medium", "low", ""]),
                    "preferred_channel": "phone",
                }
                rows.append(model_row(Patient, patient_fields, values, now=now))
            insert_rows(Patient, patient_fields, rows)
            ids = list(
                Patient.objects.filter(card_number__gte=f"9{begin:011d}")
                .order_by("pk")
                .values_list("pk", "care_team_id")[:count]
            )
            task_rows = []
            for pk, team_id in ids:
                for n in range(10):
                    draw = rng.random()
                    if draw < 0.80:  # done, in the past
                        due = now - timedelta(days=rng.randint(1, 365))
                        status, deadline, closed = "done", due + timedelta(days=2), due
                    elif draw < 0.95:  # open, due from today on
                        due = now + timedelta(hours=rng.randint(-6, 24 * 30))
                        status, deadline, closed = "open", due + timedelta(days=2), None
                    else:  # open and overdue
                        due = now - timedelta(days=rng.randint(3, 30))
                        status, deadline, closed = "open", due + timedelta(days=1), None
                    assignee = rng.choice(members[team_id]) if status == "open" else None
                    task_rows.append(
                        (
                            pk,
                            org.pk,
                            team_id,
                            f"n{n}",
                            0,
                            n,
                            "随访",
                            "condition_tracking",
                            "phone",
                            ["phone", "sms"],
                            "symptom_check",
                            "nurse",
                            assignee,
                            due,
                            deadline,
                            status,
                            0,
                            "reached" if status == "done" else "",
                            "",
                            now,
                            closed,
                        )
                    )
            insert_rows(Task, TASK_FIELDS, task_rows)
            alerts = [
                Alert(
                    patient_id=pk,
                    organisation_id=org.pk,
                    kind="rule",
                    severity="high",
                    title="血压过高",
                    reason="基准",
                    due_at=now + timedelta(hours=4),
                )
                for pk, _team in ids[::100]
            ]
            Alert.objects.bulk_create(alerts, batch_size=5000)
        done = begin + count
        print(
            f"\r  {done:,}/{patients:,} residents, {done * 10:,} tasks "
            f"({done / (time.perf_counter() - started):,.0f} residents/s)",
            end="",
            flush=True,
        )
    print(flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    open_ids = list(Task.objects.filter(status="open").values_list("pk", flat=True)[:200_000])
    nurses = rng.sample(user_ids, USERS)
    return {"nurses": nurses, "open_tasks": open_ids}


def session_cookie(user_id: int) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from careloop.accounts.models import User

    user = User.objects.get(pk=user_id)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def updater(env: dict[str, str], task_ids: list[int], seconds: float, out: Any) -> None:
    """200 task updates a second (an attempt moving the due time), paced."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from careloop.followup.models import Task

    rng = random.Random(9)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        if done >= elapsed * UPDATES_PER_S:
            time.sleep(0.002)
            continue
        with transaction.atomic():
            Task.objects.filter(pk=rng.choice(task_ids)).update(
                attempts=F("attempts") + 1, due_at=timezone.now() + timedelta(hours=3)
            )
        done += 1
    out.put(done / (time.perf_counter() - started))


def user_loop(port: int, cookie: str, seconds: float, latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Cookie": cookie, "Accept-Language": "zh-hans"}
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        conn.request("GET", "/worklist/?scope=mine&section=due", headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or b'data-testid="worklist"' not in body:
            raise RuntimeError(f"worklist page answered {response.status}")
        latencies.append(time.perf_counter() - started)


def measure_http(port: int, cookies: list[str], seconds: float) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in cookies]
    threads = [
        threading.Thread(target=user_loop, args=(port, c, seconds, latencies[i]))
        for i, c in enumerate(cookies)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary([x for lat in latencies for x in lat], time.perf_counter() - started)


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "per_s": round(len(ordered) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        "count": len(ordered),
    }


def measure_orm(nurses: list[int], seconds: float) -> dict[str, float]:
    """The page's first 50 tasks through the ORM (the worklist queryset evaluated, rows as
    model instances with patient and plan), by 4 threads: the query without the page."""
    from django.db import connections

    from careloop.accounts.models import User
    from careloop.followup.worklist import Filters, worklist

    users = [User.objects.get(pk=pk) for pk in nurses]
    latencies: list[list[float]] = [[] for _ in nurses]

    def loop(index: int) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            list(worklist(users[index], Filters(scope="mine", section="due"))[:50])
            latencies[index].append(time.perf_counter() - started)
        connections.close_all()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(nurses))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary([x for lat in latencies for x in lat], time.perf_counter() - started)


def measure_sql(nurses: list[int], seconds: float) -> dict[str, float]:
    """The page's task query, as Django builds it, run raw by 4 threads."""
    from django.db import connections

    from careloop.accounts.models import User
    from careloop.followup.worklist import Filters, worklist

    statements = []
    for pk in nurses:
        query = worklist(User.objects.get(pk=pk), Filters(scope="mine", section="due"))[:50]
        statements.append(query.query.sql_with_params())
    latencies: list[list[float]] = [[] for _ in nurses]

    def loop(index: int) -> None:
        sql, params = statements[index]
        with connections["default"].cursor() as cursor:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                latencies[index].append(time.perf_counter() - started)
        connections.close_all()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(nurses))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary([x for lat in latencies for x in lat], time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--postgres", action="store_true", help="use CARELOOP_DATABASE_URL")
    args = parser.parse_args()

    _, env, label = database_in_use("worklist", postgres=args.postgres, seed_patients=0)
    print(f"worklist on {label}: loading {args.patients:,} residents …", flush=True)
    loaded = load(args.patients)
    cookies = [session_cookie(pk) for pk in loaded["nurses"]]
    from django.db import connection

    connection.close()
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "careloop.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env={**env, "PYTHONPATH": str(ROOT), "CARELOOP_SECURE_COOKIES": "0"},
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        measure_http(port, cookies, 2)  # warm: the workers' first requests
        results: Any = multiprocessing.get_context("spawn").Queue()
        update = multiprocessing.get_context("spawn").Process(
            target=updater, args=(env, loaded["open_tasks"], args.seconds, results)
        )
        update.start()
        pages = measure_http(port, cookies, args.seconds)
        update.join()
        updates_per_s = results.get()
    finally:
        server.terminate()
        server.wait()
    orm = measure_orm(loaded["nurses"], args.seconds)
    sql = measure_sql(loaded["nurses"], args.seconds)
    print(
        json.dumps(
            {
                "database": label,
                "residents": args.patients,
                "tasks": args.patients * 10,
                "staff": max(USERS, args.patients // 500),
                "users": USERS,
                "pages": pages,
                "task_updates_per_s": round(updates_per_s),
                "first_page_query_through_the_orm": orm,
                "baseline_raw_sql": sql,
                "ratio_orm_to_raw_sql": round(orm["per_s"] / sql["per_s"], 2),
                "ratio_pages_to_raw_sql": round(pages["per_s"] / sql["per_s"], 2),
                "target": "p99 ≤ 30 ms and ≥ 500 pages/s",
                "met": pages["p99_ms"] <= 30 and pages["per_s"] >= 500,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

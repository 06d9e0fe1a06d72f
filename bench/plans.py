"""Workload (issue 5): the nightly enrolment of a city's chronic-disease residents.

    .venv/bin/python bench/plans.py [--patients 100000]                       # SQLite
    scripts/with-postgres.sh .venv/bin/python bench/plans.py --postgres --patients 1000000

Demo residents (the demo's people with their histories: ~45% with hypertension I10, ~22% with
type 2 diabetes E11, more with age) are bulk-loaded, none on any pathway. Then, each as its
own process so its peak memory is its own:

* ``careloop pathways enrol-eligible [--workers N]`` — the nightly job: everyone aged 35+ with
  I10 or E11 goes on the national programme (plan + first visit, in batches of 2,000), N
  processes (default 1) each taking the patients whose id is theirs modulo N;
* the same job again — must change nothing;
* the discharge pathways in bulk: every resident with heart failure or coronary disease
  (I50/I25) on the heart pathway as if just discharged (plan + the six follow-ups of its
  first 30 days), through the same batch code.

Baseline, in the same run: the same number of task rows inserted bare (``insert_rows``,
COPY on PostgreSQL) — what the database alone takes.

Targets: 1,000,000 residents on PostgreSQL in ≤ 5 minutes (≥ 10,000 tasks/s), the second
run changes nothing, peak memory < 2 GiB; 100,000 on SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hl7_ingest import database_in_use  # noqa: E402

LOAD_BATCH = 5_000
HEART = ("I50", "I25")


def load_residents(count: int) -> None:
    """``count`` demo residents with their records, no results, on no pathway."""
    from django.db import connection, transaction

    from careloop.demo import DemoResult, _create_patients, ensure_structure

    structure = ensure_structure(DemoResult())
    started = time.perf_counter()
    for start in range(0, count, LOAD_BATCH):
        with transaction.atomic():
            _create_patients(list(range(start, min(count, start + LOAD_BATCH))), structure)
        done = min(count, start + LOAD_BATCH)
        rate = done / (time.perf_counter() - started)
        print(f"\r  loaded {done:,}/{count:,} residents ({rate:,.0f}/s)", end="", flush=True)
    print(flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def child(env: dict[str, str], *args: str) -> tuple[float, dict, int]:
    """Run ``careloop ARGS`` as a child process: (seconds, its JSON output, peak RSS KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "careloop", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, json.loads(out), max(peak, before)


HEART_SCRIPT = """
import json, sys, time
import django
django.setup()
from django.db.models import Q
from django.utils import timezone
from careloop.clinical.models import Condition
from careloop.followup.bulk_enrol import BulkResult, enrol_batch
from careloop.followup.models import Pathway
pathway = Pathway.objects.get(code="discharge-heart")
query = Q()
for prefix in %r:
    query |= Q(icd10_code__startswith=prefix)
ids = sorted(set(Condition.objects.filter(query).values_list("patient_id", flat=True)))
now = timezone.now()
total = BulkResult()
started = time.perf_counter()
for begin in range(0, len(ids), 2000):
    wanted = [(pk, "bench", "出院（基准）") for pk in ids[begin:begin + 2000]]
    total.add(enrol_batch(pathway, wanted, trigger="discharge", now=now))
print(json.dumps({"enrolled": total.enrolled, "tasks": total.tasks,
                  "seconds": time.perf_counter() - started}))
"""


def heart(env: dict[str, str]) -> tuple[float, dict, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", HEART_SCRIPT % (HEART,)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    seconds = time.perf_counter() - started
    return (
        seconds,
        json.loads(out),
        max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before),
    )


def baseline(rows_wanted: int) -> float:
    """Bare INSERT of ``rows_wanted`` task rows copied from those just made; rows/s."""
    from django.db import transaction

    from careloop.bulk import insert_rows
    from careloop.followup.bulk_enrol import TASK_FIELDS
    from careloop.followup.models import Task

    sample = list(Task.objects.values_list(*TASK_FIELDS)[:50_000])
    occurrence = TASK_FIELDS.index("occurrence")
    rows = []
    for i in range(rows_wanted):  # distinct occurrences: the unique constraint holds
        row = list(sample[i % len(sample)])
        row[occurrence] = 100_000 + i
        rows.append(row)
    started = time.perf_counter()
    with transaction.atomic():
        insert_rows(Task, TASK_FIELDS, rows)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return rows_wanted / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="use CARELOOP_DATABASE_URL")
    parser.add_argument("--workers", type=int, default=1, help="enrol-eligible --workers")
    args = parser.parse_args()

    _, env, label = database_in_use("plans", postgres=args.postgres, seed_patients=0)
    env = {**env, "PYTHONPATH": str(ROOT)}
    print(f"plans on {label}: loading {args.patients:,} residents …", flush=True)
    load_residents(args.patients)
    from django.db import connection

    connection.close()

    print("nightly enrolment …", flush=True)
    workers = str(args.workers)
    first_s, first, first_rss = child(env, "pathways", "enrol-eligible", "--workers", workers)
    second_s, second, _ = child(env, "pathways", "enrol-eligible", "--workers", workers)
    print("heart discharges in bulk …", flush=True)
    heart_s, heart_out, heart_rss = heart(env)

    plans = sum(v["enrolled"] for v in first.values())
    tasks = sum(v["tasks"] for v in first.values())
    again = sum(v["enrolled"] + v["tasks"] for v in second.values())
    all_tasks = tasks + heart_out["tasks"]
    all_s = first_s + heart_s
    per_s = all_tasks / all_s
    bare = baseline(min(all_tasks, 500_000))
    peak_mib = max(first_rss, heart_rss) / 1024
    projected_1m_s = all_s * 1_000_000 / args.patients
    print(
        json.dumps(
            {
                "database": label,
                "residents": args.patients,
                "workers": args.workers,
                "nightly": {
                    "seconds": round(first_s, 1),
                    "plans": plans,
                    "tasks": tasks,
                    "per_pathway": first,
                },
                "second_run": {"seconds": round(second_s, 1), "changed": again},
                "heart_discharges": {
                    "seconds": round(heart_s, 1),
                    **{k: v for k, v in heart_out.items() if k != "seconds"},
                },
                "tasks_per_s": round(per_s),
                "plans_per_s": round((plans + heart_out["enrolled"]) / all_s),
                "peak_rss_mib": round(peak_mib),
                "baseline_bare_task_inserts_per_s": round(bare),
                "ratio_to_baseline": round(per_s / bare, 2),
                "projected_seconds_for_1m_residents": round(projected_1m_s),
                "target": "1,000,000 on PostgreSQL ≤ 300 s (≥ 10,000 tasks/s), second run "
                "changes nothing, peak < 2 GiB",
                "met": per_s >= 10_000 and again == 0 and peak_mib < 2048 and projected_1m_s <= 300,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    os.environ.pop("CARELOOP_VAR_DIR", None)


if __name__ == "__main__":
    main()

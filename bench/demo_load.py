"""Workload: `careloop demo --patients N` (issue 2 target: 100,000 patients in < 120 s).

Baseline, measured in the same run on a fresh database: the same patient rows through
Django's bulk_create (model instances, the ORM's compiled INSERT) for the patient table alone.
The loader writes eleven tables; the ratio shows what the whole load costs against the ORM
writing just one of them.

    .venv/bin/python bench/demo_load.py [--patients 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(variant: str, patients: int) -> dict[str, float]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if variant == "demo":
        from careloop.demo import load_demo

        load_demo(patients)
    else:
        from careloop.demo import DemoResult, ensure_structure
        from careloop.demo.people import person
        from careloop.patients.models import Patient

        structure = ensure_structure(DemoResult())
        org = structure["orgs"]["DEMO-H1"]
        for start in range(0, patients, 1000):
            rows = []
            for i in range(start, min(patients, start + 1000)):
                p = person(i)
                rows.append(
                    Patient(
                        card_number=p.card_number,
                        name=p.name,
                        sex=p.sex,
                        birth_date=p.birth_date,
                        id_number=p.id_number,
                        phone=p.phone,
                        address=p.address,
                        organisation=org,
                    )
                )
            Patient.objects.bulk_create(rows)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        total_rows = 0
        for table in connection.introspection.table_names():
            if table.startswith(("patients_", "clinical_")):
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
                total_rows += cursor.fetchone()[0]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "rows": total_rows, "peak_mib": peak_mib}


def run(variant: str, patients: int, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="careloop-bench-") as var:
        env = dict(os.environ, CARELOOP_VAR_DIR=var)
        if database_url:
            env["CARELOOP_DATABASE_URL"] = database_url
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--patients", str(patients)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.patients)))
        return
    demo = run("demo", args.patients, args.database_url)
    baseline = run("baseline", args.patients, args.database_url)
    n = args.patients
    print(f"demo load, {n} patients ({'PostgreSQL' if args.database_url else 'SQLite'})")
    print(
        f"  careloop demo : {demo['seconds']:7.1f} s  {n / demo['seconds']:8.0f} patients/s  "
        f"{demo['rows'] / demo['seconds']:8.0f} rows/s  ({demo['rows']} rows, "
        f"peak {demo['peak_mib']:.0f} MiB)"
    )
    print(
        f"  baseline ORM  : {baseline['seconds']:7.1f} s  {n / baseline['seconds']:8.0f} "
        f"patients/s  (patient table only, {baseline['rows']} rows)"
    )
    print(f"  ratio demo/baseline: {demo['seconds'] / baseline['seconds']:.2f}")
    target = 120 * n / 100_000
    verdict = "meets" if demo["seconds"] < target else "MISSES"
    print(f"  target < {target:.0f} s: {verdict}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

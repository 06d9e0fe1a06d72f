"""Workload (issue 3): FHIR R4 transaction Bundles over HTTP into /fhir/R4.

    .venv/bin/python bench/fhir_bundle.py [--bundles 1000]                       # SQLite
    scripts/with-postgres.sh .venv/bin/python bench/fhir_bundle.py --postgres

Each Bundle is one new patient (Patient with a resident ID) and 20 laboratory Observations
referring to it by urn:uuid, ~30% abnormal, a few critical: 1,000 Bundles are 21,000
resources. They are POSTed to /fhir/R4 on the production web server (gunicorn, as
`careloop serve` runs it) from a separate process over 4 keep-alive connections, into a
database in use (1,000 demo patients). Every resource is validated with fhir.resources, the
raw Bundle stored first, patients enrolled, observations graded, critical values alerted.

Baseline, in the same run on the same resources: validating them with fhir.resources alone
(`model_validate` of the R4B class, one process). Target: ≥ 0.5× of it, i.e. ≥ 3,500
resources/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hl7_ingest import (  # noqa: E402
    busy_share,
    careloop,
    database_in_use,
    free_port,
    machine_cpu,
    percentile,
    wait_for_port,
)

FIRST_PERSON = 300_000  # people not among the demo patients nor the HL7 bench's
OBSERVATIONS = 20
CONNECTIONS = 4
SEED_PATIENTS = 1_000
# LOINC, name, unit, normal low, normal high (all in the catalogue, REFERENCE §4)
ITEMS = [
    ("14749-6", "葡萄糖", "mmol/L", 3.9, 6.1),
    ("4548-4", "糖化血红蛋白", "%", 4.0, 6.5),
    ("14647-2", "总胆固醇", "mmol/L", 3.0, 5.2),
    ("14927-8", "甘油三酯", "mmol/L", 0.5, 1.7),
    ("22748-8", "低密度脂蛋白胆固醇", "mmol/L", 1.5, 3.4),
    ("14646-4", "高密度脂蛋白胆固醇", "mmol/L", 1.0, 2.0),
    ("14682-9", "肌酐", "umol/L", 57, 97),
    ("14933-6", "尿酸", "umol/L", 208, 428),
    ("2823-3", "钾", "mmol/L", 3.5, 5.3),
    ("2951-2", "钠", "mmol/L", 137, 147),
    ("1742-6", "丙氨酸氨基转移酶", "U/L", 9, 50),
    ("1920-8", "天门冬氨酸氨基转移酶", "U/L", 15, 40),
    ("718-7", "血红蛋白", "g/L", 130, 175),
    ("6690-2", "白细胞", "10*9/L", 3.5, 9.5),
    ("777-3", "血小板", "10*9/L", 125, 350),
    ("3016-3", "促甲状腺激素", "mIU/L", 0.27, 4.2),
    ("14631-6", "总胆红素", "umol/L", 3.4, 20.5),
    ("2000-8", "总钙", "mmol/L", 2.11, 2.52),
    ("1834-1", "甲胎蛋白", "ng/mL", 0, 7),
    ("2039-6", "癌胚抗原", "ng/mL", 0, 5),
]


def bundle(index: int) -> dict[str, Any]:
    from careloop.demo.people import person

    who = person(FIRST_PERSON + index)
    rng = random.Random(index)
    patient_url = f"urn:uuid:00000000-0000-4000-8000-{index:012d}"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:careloop:sid:resident-id", "value": who.id_number}],
                "name": [{"text": who.name}],
                "gender": who.sex,
                "birthDate": who.birth_date.isoformat(),
                "telecom": [{"system": "phone", "value": who.phone, "use": "mobile"}],
            },
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    day = f"2026-{1 + index % 11:02d}-{1 + index % 28:02d}T08:{index % 60:02d}:00+08:00"
    for code, name, unit, low, high in ITEMS[:OBSERVATIONS]:
        value = rng.uniform(low, high)
        if rng.random() < 0.3:  # abnormal, now and then critical (potassium ≥ 6.2)
            value = high * rng.uniform(1.05, 1.3)
        entries.append(
            {
                "fullUrl": f"urn:uuid:{rng.getrandbits(128):032x}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "observation-category",
                                    "code": "laboratory",
                                }
                            ]
                        }
                    ],
                    "code": {
                        "coding": [{"system": "http://loinc.org", "code": code, "display": name}],
                        "text": name,
                    },
                    "subject": {"reference": patient_url},
                    "effectiveDateTime": day,
                    "valueQuantity": {"value": round(value, 2), "unit": unit},
                    "referenceRange": [{"low": {"value": low}, "high": {"value": high}}],
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def validate_alone(bodies: list[bytes]) -> float:
    """The baseline: fhir.resources validating every resource, nothing else."""
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient

    classes = {"Patient": Patient, "Observation": Observation}
    count = 0
    started = time.perf_counter()
    for body in bodies:
        for entry in json.loads(body)["entry"]:
            resource = entry["resource"]
            classes[resource["resourceType"]].model_validate(resource)
            count += 1
    return count / (time.perf_counter() - started)


def _post(args: tuple[int, str, list[bytes]]) -> list[float]:
    port, token, bodies = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    results = []
    for body in bodies:
        started = time.perf_counter()
        connection.request(
            "POST",
            "/fhir/R4",
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/fhir+json",
            },
        )
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise SystemExit(f"Bundle refused: {response.status} {answer[:500]!r}")
        results.append(time.perf_counter() - started)
    connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--postgres", action="store_true", help="use CARELOOP_DATABASE_URL")
    args = parser.parse_args()

    _, env, label = database_in_use("fhir", postgres=args.postgres, seed_patients=SEED_PATIENTS)
    token = careloop(env, "apitoken", "create", "supervisor").stdout.strip().split()[-1]

    print(f"fhir_bundle on {label}: building {args.bundles} Bundles …", flush=True)
    bodies = [json.dumps(bundle(i), ensure_ascii=False).encode() for i in range(args.bundles)]
    resources = args.bundles * (1 + OBSERVATIONS)

    from careloop.supervisor import web_argv

    port = free_port()
    server = subprocess.Popen(
        [*web_argv("127.0.0.1", port, args.workers), "--access-logfile", "/dev/null"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server)
        _post((port, token, bodies[:2]))  # both workers warm (imports, catalogue)
        chunks = [(port, token, bodies[2 + i :: CONNECTIONS]) for i in range(CONNECTIONS)]
        started, cpu_before = time.perf_counter(), machine_cpu()
        with multiprocessing.get_context("spawn").Pool(CONNECTIONS) as pool:
            timings = [t for part in pool.map(_post, chunks) for t in part]
        elapsed, cpu_used = time.perf_counter() - started, machine_cpu() - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    sent = len(timings) * (1 + OBSERVATIONS)
    ours = sent / elapsed

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clinical_observation WHERE source = 'fhir'")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM followup_alert")
        alerts = cursor.fetchone()[0]
    expected = args.bundles * OBSERVATIONS
    if stored < expected:
        raise SystemExit(f"only {stored} of {expected} observations stored")

    baseline = validate_alone(bodies)
    ms = [t * 1000 for t in timings]
    figures = {
        "database": label,
        "bundles": args.bundles,
        "resources": resources,
        "observations_stored": stored,
        "alerts": alerts,
        "resources_per_s": round(ours),
        "bundle_ms_p50": round(statistics.median(ms), 1),
        "bundle_ms_p99": round(percentile(ms, 0.99), 1),
        # The whole machine (senders, web workers, database) while the Bundles were posted.
        "machine_cpu_ms_per_bundle": round(cpu_used / len(timings) * 1000, 1),
        "machine_busy_share": busy_share(cpu_used, elapsed),
        "baseline_fhir_resources_validation_per_s": round(baseline),
        "ratio_to_baseline": round(ours / baseline, 2),
        "target": "≥ 0.5× baseline and ≥ 3,500 resources/s",
        "met": ours >= 0.5 * baseline and ours >= 3500,
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

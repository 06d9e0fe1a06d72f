"""Workload (issue 7): 1,000 patient health reports printed as one batch.

    .venv/bin/python bench/reports.py [--patients 1000]                          # SQLite
    scripts/with-postgres.sh .venv/bin/python bench/reports.py --postgres

Demo patients with their history (exams over several years, diagnoses, assessments); one
``ReportBatch`` of ``--patients`` of them, run by the batch job itself (render with
WeasyPrint, archive each copy, audit, zip). Reports: wall time, reports/s, pages/s and peak
memory (RSS) of the process. Baseline in the same run: WeasyPrint alone turning one
patient's finished report HTML into PDF again and again (what any PDF report must pay).

Target: 1,000 reports < 5 minutes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hl7_ingest import database_in_use  # noqa: E402

TARGET_SECONDS = 300
BASELINE_RENDERS = 30


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    _workdir, _env, label = database_in_use(
        "reports", postgres=args.postgres, seed_patients=args.patients
    )
    from django.template.loader import render_to_string
    from weasyprint import HTML

    from careloop.care.models import PrintedReport, ReportBatch
    from careloop.care.report import context
    from careloop.care.tasks import print_batch
    from careloop.patients.models import Patient

    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True)[: args.patients])
    before = peak_mib()
    batch = ReportBatch.objects.create(patient_ids=ids, total=len(ids))
    started = time.perf_counter()
    status = print_batch.call(batch.pk)
    wall = time.perf_counter() - started
    pages = sum(PrintedReport.objects.filter(batch=batch).values_list("pages", flat=True))
    printed = PrintedReport.objects.filter(batch=batch).count()
    print(f"{label}: {printed} reports ({pages} pages) in {wall:.1f} s, status {status}")
    print(f"  {printed / wall:.1f} reports/s, {pages / wall:.1f} pages/s")
    print(f"  peak memory {peak_mib():.0f} MiB (before the batch {before:.0f} MiB)")

    html = render_to_string("care/report.html", context(Patient.objects.get(pk=ids[0])))
    started = time.perf_counter()
    base_pages = 0
    for _ in range(BASELINE_RENDERS):
        document = HTML(string=html).render()
        document.write_pdf()
        base_pages += len(document.pages)
    base = time.perf_counter() - started
    print(f"  baseline (WeasyPrint alone): {base_pages / base:.1f} pages/s")
    print(f"  ratio to baseline: {(pages / wall) / (base_pages / base):.2f}")
    verdict = "met" if wall < TARGET_SECONDS and printed == len(ids) else "NOT met"
    print(f"  target {len(ids)} reports < {TARGET_SECONDS} s: {verdict}")


if __name__ == "__main__":
    main()

"""Workload (issue 3): `careloop import FILE` of a 100,000-row Excel sheet.

    .venv/bin/python bench/excel_import.py [--rows 100000]                       # SQLite
    scripts/with-postgres.sh .venv/bin/python bench/excel_import.py --postgres

The sheet is an exam centre's long export (one result per row: 体检号, 姓名, 性别, 出生日期,
身份证号, 手机号, 体检日期, 项目代码, 项目名称, 结果, 单位, 参考范围), 10 items per visit, so
100,000 rows are 10,000 visits of people first seen in the file (each one enrolled), ~30%
abnormal values; 0.1% of the rows are wrong (a date that does not exist) and go to the
error report. Imported with the CLI into a database in use (1,000 demo patients).

Reports: rows/s, wall time and peak memory (RSS) of the import process. Baseline in the same
run: openpyxl alone reading the same file in read-only mode (what any import must pay).
Target: 100,000 rows < 60 s, peak memory < 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hl7_ingest import database_in_use  # noqa: E402

FIRST_PERSON = 400_000  # not among the demo patients nor the other benches' people
PER_VISIT = 10
SEED_PATIENTS = 1_000
HEADER = [
    "体检号",
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "手机号",
    "体检日期",
    "项目代码",
    "项目名称",
    "结果",
    "单位",
    "参考范围",
]
# LOINC, name, unit, normal low, normal high
ITEMS = [
    ("14771-0", "空腹血糖", "mmol/L", 3.9, 6.1),
    ("14647-2", "总胆固醇", "mmol/L", 3.0, 5.2),
    ("14927-8", "甘油三酯", "mmol/L", 0.5, 1.7),
    ("22748-8", "低密度脂蛋白胆固醇", "mmol/L", 1.5, 3.4),
    ("14646-4", "高密度脂蛋白胆固醇", "mmol/L", 1.0, 2.0),
    ("14682-9", "肌酐", "umol/L", 57, 97),
    ("14933-6", "尿酸", "umol/L", 208, 428),
    ("1742-6", "丙氨酸氨基转移酶", "U/L", 9, 50),
    ("718-7", "血红蛋白", "g/L", 130, 175),
    ("2823-3", "钾", "mmol/L", 3.5, 5.3),
]


def write_sheet(path: Path, rows: int) -> int:
    """The sheet, written row by row (openpyxl write-only); returns the wrong rows."""
    from openpyxl import Workbook

    from careloop.demo.people import person

    rng = random.Random(7)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("体检结果")
    sheet.append(HEADER)
    wrong = 0
    day0 = datetime(2026, 1, 5, 8, 0)
    for visit in range((rows + PER_VISIT - 1) // PER_VISIT):
        who = person(FIRST_PERSON + visit)
        when = day0 + timedelta(days=visit % 300, minutes=visit % 240)
        sex = "男" if who.sex == "male" else "女"
        exam = f"TJ{FIRST_PERSON + visit:08d}"
        for code, name, unit, low, high in ITEMS[: min(PER_VISIT, rows - visit * PER_VISIT)]:
            value: float | str = round(rng.uniform(low, high), 2)
            if rng.random() < 0.3:
                value = round(high * rng.uniform(1.05, 1.15), 2)
            moment: datetime | str = when
            if rng.random() < 0.001:
                moment, wrong = "2026-13-45", wrong + 1  # no such date: to the error report
            sheet.append(
                [
                    exam,
                    who.name,
                    sex,
                    who.birth_date,
                    who.id_number,
                    who.phone,
                    moment,
                    code,
                    name,
                    value,
                    unit,
                    f"{low}-{high}",
                ]
            )
    book.save(path)
    return wrong


def read_alone(path: Path) -> float:
    """The baseline: openpyxl reading every cell of the sheet, nothing else."""
    from openpyxl import load_workbook

    started = time.perf_counter()
    book = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1
    book.close()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="use CARELOOP_DATABASE_URL")
    args = parser.parse_args()

    workdir, env, label = database_in_use(
        "import", postgres=args.postgres, seed_patients=SEED_PATIENTS
    )

    path = workdir / f"体检结果-{date.today():%Y%m%d}.xlsx"
    print(f"excel_import on {label}: writing {args.rows} rows …", flush=True)
    wrong = write_sheet(path, args.rows)
    print(f"  {path.stat().st_size / 2**20:.1f} MiB; importing …", flush=True)

    started = time.perf_counter()
    out, err = workdir / "import.out", workdir / "import.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "careloop", "import", str(path), "--source", "体检中心导出"],
            env=env,
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
    elapsed = time.perf_counter() - started
    peak_mib = usage.ru_maxrss / 1024
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"import failed ({code}): {err.read_text()[-2000:]}")
    outcome = json.loads(out.read_text().strip().splitlines()[-1])
    if outcome["imported_rows"] != args.rows - wrong or outcome["error_rows"] != wrong:
        raise SystemExit(f"unexpected outcome: {outcome} (wrong rows written: {wrong})")

    baseline = read_alone(path)
    ours = args.rows / elapsed
    figures = {
        "database": label,
        "rows": args.rows,
        "imported_rows": outcome["imported_rows"],
        "error_rows": outcome["error_rows"],
        "patients_created": outcome.get("patients_created"),
        "seconds": round(elapsed, 1),
        "rows_per_s": round(ours),
        "peak_rss_mib": round(peak_mib),
        "baseline_openpyxl_read_rows_per_s": round(baseline),
        "ratio_to_baseline": round(ours / baseline, 2),
        "target": "< 60 s and < 1 GiB for 100,000 rows",
        "met": elapsed < 60 * args.rows / 100_000 and peak_mib < 1024,
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

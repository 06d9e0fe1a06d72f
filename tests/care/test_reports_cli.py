"""`careloop reports print` on a real database file: every patient of an organisation and
below, rendered by two worker processes, into one zip with a PDF per patient (card number),
each copy archived; a wrong organisation is named (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CARELOOP = [sys.executable, "-m", "careloop"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("reports-cli")
    env = {
        **os.environ,
        "CARELOOP_VAR_DIR": str(home),
        "CARELOOP_DATABASE_URL": f"sqlite:///{home}/careloop.db",
        "CARELOOP_REPORT_PROCESSES": "2",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([*CARELOOP, "migrate", "-v0"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*CARELOOP, "demo", "--patients", "16"], env=env, check=True, capture_output=True
    )
    return env


def test_printing_an_organisation_in_worker_processes(demo: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "reports.zip"
    done = subprocess.run(
        [*CARELOOP, "reports", "print", "--org", "DEMO-H1", "--out", str(out)],
        env=demo,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    names = zipfile.ZipFile(out).namelist()
    assert result["printed"] >= 10 and len(names) == result["printed"]  # the parallel path
    assert all(name.endswith(".pdf") for name in names) and result["pages"] >= len(names)
    assert all(zipfile.ZipFile(out).read(n).startswith(b"%PDF") for n in names[:3])
    wrong = subprocess.run(
        [*CARELOOP, "reports", "print", "--org", "NOPE", "--out", str(out)],
        env=demo,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2 and "no organisation NOPE" in wrong.stderr

"""`careloop reports print` on a real database file: every patient of an organisation and
below, rendered by two worker processes, into one zip with a PDF per patient (card number),
each copy archived; a wrong organisation is named (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def test_ctrl_c_while_printing_ends_the_batch_failed_not_running(
    patient_factory: Any, hospital: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C on `careloop reports print` left the batch "running" for ever."""
    from careloop.care import tasks
    from careloop.care.models import ReportBatch

    patient = patient_factory(organisation=hospital)

    def interrupted(patient_ids: list[int]) -> Iterator[tuple[Any, Any]]:
        raise KeyboardInterrupt
        yield  # a generator, as the real one

    monkeypatch.setattr(tasks, "_rendered", interrupted)
    batch = ReportBatch.objects.create(patient_ids=[patient.pk], total=1)
    with pytest.raises(KeyboardInterrupt):
        tasks.run_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == ReportBatch.Status.FAILED and batch.finished_at is not None
    assert batch.message == "interrupted after 0 of 1"

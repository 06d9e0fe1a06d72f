"""In Chromium: a supervisor ticks two patients on the patient list, prints their health
reports as a batch, watches the progress bar reach the end and downloads the zip; the
patient page has the print button, which returns the PDF."""

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_batch_printing_from_the_patient_list(
    page: Any, bob: Any, hospital: Any, patient_factory: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    first = patient_factory(organisation=hospital, name="上官云")
    second = patient_factory(organisation=hospital, name="慕容雪")
    sign_in(page, "bob")
    page.goto("/patients/")
    page.get_by_role("checkbox", name="上官云").check()
    page.get_by_role("checkbox", name="慕容雪").check()
    page.get_by_test_id("batch-print").get_by_role("button").click()
    status = page.get_by_test_id("batch-status")
    expect(status).to_have_attribute("data-status", "queued")

    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    expect(status).to_have_attribute("data-status", "done", timeout=15_000)
    expect(page.locator("[data-testid=batch-status] .progress-bar")).to_have_attribute(
        "data-percent", "100"
    )
    with page.expect_download() as download:
        page.get_by_test_id("batch-download").click()
    names = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())).namelist()
    assert sorted(names) == sorted([f"{first.card_number}.pdf", f"{second.card_number}.pdf"])

    page.goto(f"/patients/{first.pk}/")
    link = page.get_by_test_id("print-report").get_attribute("href")
    answer = page.request.get(link)
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF")

"""In Chromium: a supervisor opens the dashboard, sees the completion rate and its chart,
drills down to the follow-ups not done (as many rows as the figure says) and downloads the
list as Excel."""

from io import BytesIO
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.analytics.conftest import task
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_drill_down_and_export(
    page: Any, bob: Any, hospital: Any, patient_factory: Any
) -> None:
    now = timezone.now()
    patient = patient_factory(organisation=hospital, name="司马青")
    task(patient, now, "done", closed=now)
    for _ in range(3):
        task(patient, now)
    sign_in(page, "bob")
    page.get_by_role("link", name="数据看板").click()
    figure = page.get_by_test_id("figure-completion_rate")
    expect(figure.get_by_test_id("value")).to_have_text("25.0%")
    expect(page.locator("[data-chart=weekly] canvas")).to_have_count(1)  # the chart is drawn
    figure.get_by_test_id("part-not_done").click()
    expect(page.get_by_test_id("count")).to_have_text("3")
    expect(page.get_by_test_id("row")).to_have_count(3)
    with page.expect_download() as download:
        page.get_by_test_id("export-list").click()
    assert download.value.suggested_filename.startswith("not_done-")
    with open(download.value.path(), "rb") as saved:
        book = load_workbook(BytesIO(saved.read()))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 4 and rows[1][1] == "司*青"

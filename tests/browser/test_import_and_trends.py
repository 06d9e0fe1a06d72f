"""In Chromium: import an Excel file with two bad rows, download the error report, open the
patient's trend chart and report."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from openpyxl import load_workbook
from playwright.sync_api import expect

from careloop.accounts.roles import Role
from careloop.patients.models import Patient
from tests.browser.helpers import sign_in
from tests.factories import UserFactory
from tests.test_import import long_rows, xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_import_errors_report_and_trend_chart(page: Any, hospital: Any, tmp_path: Path) -> None:
    UserFactory(username="bob", organisation=hospital, role=Role.SUPERVISOR)
    sign_in(page, "bob")

    rows = long_rows()
    rows.insert(3, [*rows[0][:6], "2025-11-18", "14771-0", "空腹血糖", 5.6, "mmol/L", ""])
    upload = tmp_path / "体检结果.xlsx"
    upload.write_bytes(xlsx(rows))
    page.goto("/interop/imports/")
    page.set_input_files("#id_file", str(upload))
    page.fill("#id_source", "体检中心")
    page.get_by_test_id("upload-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("preview")).to_contain_text("吴国平")
    expect(page.get_by_test_id("preview").locator("tr.table-danger")).to_have_count(2)
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "queued")

    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    status = page.get_by_test_id("import-status")
    expect(status).to_have_attribute("data-status", "done", timeout=15_000)
    expect(page.get_by_test_id("error-rows")).to_have_text("2")
    expect(page.get_by_test_id("imported")).to_have_text("6")

    with page.expect_download() as download_info:
        page.get_by_test_id("error-report").click()
    report = tmp_path / "errors.xlsx"
    download_info.value.save_as(report)
    lines = list(load_workbook(report).active.iter_rows(values_only=True))
    assert [line[0] for line in lines[1:]] == [8, 9]

    patient = Patient.objects.get(name="吴国平")
    page.goto(f"/patients/{patient.pk}/")
    chart = page.get_by_test_id("trend-chart")
    expect(chart).to_have_attribute("data-loaded", re.compile(r"[1-9]"))
    count = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('trend-chart'))"
        ".getOption().series[0].data.length"
    )
    assert count == 2  # fasting glucose in 2025 and 2026
    low, high = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('trend-chart'))"
        ".getModel().getComponent('yAxis').axis.scale.getExtent()"
    )
    assert low <= 3.9 and high >= 6.1  # the reference band 3.9–6.1 in sight, not only the values
    expect(page.get_by_test_id("year-over-year")).to_contain_text("空腹血糖")
    page.get_by_test_id("reports").get_by_role("link").first.click()
    expect(page.get_by_test_id("report-table")).to_contain_text("↑")


# The shaded reference band, in the chart's values (its lowest and highest y).
SHADED_BAND = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById('trend-chart'));
  const band = chart.getZr().storage.getDisplayList()
    .filter((e) => e.style && e.style.fill === 'rgba(47, 179, 68, 0.12)')[0];
  if (!band) return null;
  const ys = band.shape.points.map((p) => chart.convertFromPixel({ gridIndex: 0 }, p)[1]);
  return [Math.min(...ys), Math.max(...ys)];
}"""


def test_a_band_with_one_edge_shades_the_side_of_the_range(page: Any, hospital: Any) -> None:
    """LDL below 3.4 is the range (no lower edge); both values are above it. The band is
    shaded from the axis's foot up to 3.4, not between 3.4 and the lowest value (which
    would show 3.4–4.0, out of range, as in range)."""
    from datetime import timedelta

    from django.utils import timezone

    from careloop.clinical.models import Observation
    from tests.factories import PatientFactory

    UserFactory(username="bob", organisation=hospital, role=Role.SUPERVISOR)
    patient = PatientFactory(organisation=hospital, name="钱血脂")
    for days, value in ((200, 4.0), (10, 4.5)):
        Observation.objects.create(
            patient=patient,
            code="13457-7",
            name="低密度脂蛋白胆固醇",
            value=value,
            unit="mmol/L",
            ref_high=3.4,
            interpretation="H",
            effective_at=timezone.now() - timedelta(days=days),
            source="manual",
        )
    sign_in(page, "bob")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.get_by_test_id("trend-chart")).to_have_attribute("data-loaded", "2")
    low, high = page.evaluate(SHADED_BAND)
    assert abs(high - 3.4) < 0.01, (low, high)
    assert low < 3.4 - 0.1  # a band to see, below the edge


# Each text drawn on the chart with its box in pixels: [text, x, y, width, height].
CHART_TEXTS = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById('trend-chart'));
  return chart.getZr().storage.getDisplayList()
    .filter((e) => e.style && typeof e.style.text === 'string' && e.style.text)
    .map((e) => {
      const box = e.getBoundingRect().clone();
      const m = e.getComputedTransform();
      if (m) box.applyTransform(m);
      return [e.style.text, box.x, box.y, box.width, box.height];
    });
}"""


def test_the_band_label_does_not_cover_the_charts_title(page: Any, hospital: Any) -> None:
    """Readings inside the band reach its top edge, which is the top of the chart: the
    label 参考范围 was drawn above that edge, over the title 收缩压 (mmHg)."""
    from datetime import timedelta

    from django.utils import timezone

    from careloop.clinical.models import Observation
    from tests.factories import PatientFactory

    UserFactory(username="bob", organisation=hospital, role=Role.SUPERVISOR)
    patient = PatientFactory(organisation=hospital, name="孙血压")
    for days, value in ((300, 129), (200, 127), (100, 135), (10, 141)):
        Observation.objects.create(
            patient=patient,
            code="8480-6",
            name="收缩压",
            value=value,
            unit="mmHg",
            ref_low=90,
            ref_high=139,
            interpretation="H" if value > 139 else "N",
            effective_at=timezone.now() - timedelta(days=days),
            source="manual",
        )
    sign_in(page, "bob")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.get_by_test_id("trend-chart")).to_have_attribute("data-loaded", "4")
    boxes = {text: (x, y, w, h) for text, x, y, w, h in page.evaluate(CHART_TEXTS)}
    tx, ty, tw, th = boxes["收缩压 (mmHg)"]
    bx, by, bw, bh = boxes["参考范围"]
    apart = bx >= tx + tw or tx >= bx + bw or by >= ty + th or ty >= by + bh
    assert apart, (boxes["收缩压 (mmHg)"], boxes["参考范围"])

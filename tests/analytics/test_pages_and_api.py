"""The dashboard for a supervisor: figures with links to their lists, a list's count equal
to the figure, Excel exports with masked names, scope errors named; a nurse may not see
it. The API: /api/v1/metrics/followup and /api/v1/metrics/dashboard."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from careloop.audit.models import AuditEvent
from tests.analytics.conftest import NOVEMBER, at, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(hospital: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=hospital, name="欧阳娜娜")
    task(patient, at(5), "done", closed=at(5, 12))
    task(patient, at(6), "done", closed=at(9))
    task(patient, at(7))


def test_the_dashboard_and_its_lists(tasks: None, bob: Any, alice: Any) -> None:
    client = Client()
    client.force_login(bob)
    page = client.get("/dashboard/", NOVEMBER).content.decode()
    assert 'data-testid="figure-completion_rate"' in page and "66.7%" in page
    assert "/dashboard/lists/planned/?from=2026-11-01" in page
    listed = client.get("/dashboard/lists/not_done/", NOVEMBER).content.decode()
    assert 'data-testid="count">1<' in listed and listed.count('data-testid="row"') == 1
    assert "欧阳娜娜" in listed  # staff see the name on screen

    exported = client.get("/dashboard/lists/done/", {**NOVEMBER, "format": "xlsx"})
    rows = list(load_workbook(BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3 and {r[1] for r in rows[1:]} == {"欧**娜"}  # masked in files
    # Times as date cells in local time, shown as on the screen.
    assert {r[0] for r in rows[1:]} == {at(5).replace(tzinfo=None), at(6).replace(tzinfo=None)}
    whole = client.get("/dashboard/", {**NOVEMBER, "format": "xlsx"})
    values = [
        r[1]
        for r in load_workbook(BytesIO(whole.content)).active.iter_rows(min_row=3)
        if r[0].value
    ]
    completion = next(c for c in values if c.value == 0.6667)  # a number, not "66.7%"
    assert completion.number_format == "0.0%"
    assert AuditEvent.objects.filter(action="export", object_type="dashboard").count() == 2

    wrong = client.get("/dashboard/", {"from": "2026-12-01", "to": "2026-11-01"}).content.decode()
    assert "开始日期不能晚于结束日期" in wrong and "from:" not in wrong  # no parameter names
    # The period as typed stays beside the error, not the default period it fell back to.
    assert 'name="from" value="2026-12-01"' in wrong and 'name="to" value="2026-11-01"' in wrong
    english = client.get(
        "/dashboard/",
        {"from": "2026-12-01", "to": "2026-11-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "the start cannot be after the end" in english and "开始日期" not in english
    assert client.get("/dashboard/lists/nonsense/", NOVEMBER).status_code == 404
    for key in ("attempts:", "connected:", "done:", ":phone"):  # no channel, or no list
        assert client.get(f"/dashboard/lists/{key}/", NOVEMBER).status_code == 404, key

    nurse = Client()
    nurse.force_login(alice)
    assert nurse.get("/dashboard/").status_code == 403
    # A list of patients: the card number once, then the care team and the risk tier.
    people = client.get("/dashboard/lists/planned_patients/", {**NOVEMBER, "format": "xlsx"})
    [_header, person] = list(
        load_workbook(BytesIO(people.content)).active.iter_rows(values_only=True)
    )
    assert person[2] and person[3] != person[2]


def test_the_dashboard_export_writes_its_figures_as_numbers(tasks: None, bob: Any) -> None:
    """A supervisor computes with the exported figures: each value is a numeric cell whose
    number format shows it as the dashboard does (a rate as a percentage); a figure with
    nothing to count stays "—"."""
    client = Client()
    client.force_login(bob)
    page = client.get("/dashboard/", NOVEMBER).content.decode()
    whole = client.get("/dashboard/", {**NOVEMBER, "format": "xlsx"})
    sheet = load_workbook(BytesIO(whole.content)).active
    figures = {r[0].value: r[1] for r in sheet.iter_rows(min_row=3) if r[0].value}
    assert len(figures) >= 10
    for label, cell in figures.items():
        assert label in page  # the rows are the dashboard's figures
        if cell.value == "—":
            continue
        assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool), label
    rates = {label: c for label, c in figures.items() if c.number_format == "0.0%"}
    assert rates and all(c.value == "—" or 0 <= c.value <= 1 for c in rates.values())
    completion = next(c for c in rates.values() if c.value == 0.6667)
    assert completion.data_type == "n"
    cost = {label: c for label, c in figures.items() if c.number_format == '"¥"#,##0.00'}
    assert cost["单次随访成本"].value == 0.0  # nothing spent on the two done follow-ups
    assert all(label.startswith("单次随访成本") for label in cost)  # and per channel
    assert not any(isinstance(c.value, str) and c.value.endswith("%") for c in figures.values())
    # The parts stay whole counts.
    counts = [r[3].value for r in sheet.iter_rows(min_row=3) if r[2].value]
    assert counts and all(isinstance(n, int) for n in counts)


def test_the_metrics_api(tasks: None, bob: Any, alice: Any, api_as: Any, community: Any) -> None:
    api = api_as(bob)
    body = api.get("/api/v1/metrics/followup", NOVEMBER).json()
    assert body["planned"] == 3 and body["done"] == 2 and body["completion_rate"] == 0.6667
    assert body["on_time"] == 1 and body["on_time_rate"] == 0.5
    assert body["from"] == "2026-11-01" and body["org"] == bob.organisation.code
    figures = api.get("/api/v1/metrics/dashboard", NOVEMBER).json()["figures"]
    completion = next(f for f in figures if f["key"] == "completion_rate")
    assert {p["key"]: p["count"] for p in completion["parts"]}["done"] == 2

    bad = api.get("/api/v1/metrics/followup", {"from": "2026-13-01"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"
    elsewhere = api.get("/api/v1/metrics/followup", {"org": community.code})
    assert elsewhere.status_code == 422 and elsewhere.json()["errors"][0]["field"] == "org"
    assert api_as(alice).get("/api/v1/metrics/followup").status_code == 403


def test_a_patient_now_elsewhere_is_counted_but_not_shown(
    tasks: None, bob: Any, community: Any, patient_factory: Any
) -> None:
    moved = patient_factory(organisation=community, name="令狐冲")  # handed to the community
    moved_task = task(moved, at(8), "done", closed=at(8, 11))
    moved_task.organisation = bob.organisation  # the follow-up was the hospital's
    moved_task.save()
    client = Client()
    client.force_login(bob)
    listed = client.get("/dashboard/lists/done/", NOVEMBER).content.decode()
    assert 'data-testid="count">3<' in listed and listed.count('data-testid="row"') == 3
    assert "令狐冲" not in listed and "其他机构的患者" in listed
    exported = client.get("/dashboard/lists/done/", {**NOVEMBER, "format": "xlsx"})
    rows = list(load_workbook(BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert len(rows) == 4 and moved.card_number not in {r[2] for r in rows}


def test_an_exported_list_is_logged_in_words_shown_in_the_readers_language(
    tasks: None, bob: Any
) -> None:
    from django.utils import translation

    client = Client()
    client.force_login(bob)
    client.get(
        "/dashboard/lists/managed/", {**NOVEMBER, "format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    event = AuditEvent.objects.filter(action="export", object_id="managed").latest("id")
    assert event.summary.startswith("list “patients under follow-up” exported, 2026-11-01 to ")
    assert "{" not in event.summary  # no query parameters as code
    with translation.override("zh-hans"):
        assert event.summary_label.startswith("导出名单“在管患者”，2026-11-01 至 ")


def test_a_long_list_names_its_page_links_as_pages(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    """The list page's own ``label`` (the list's name) is not taken for the page links'
    name: a screen reader announces "Pages", as on every other list."""
    patient = patient_factory(organisation=hospital, name="欧阳娜娜")
    for n in range(51):
        task(patient, at(1 + n % 28))
    client = Client()
    client.force_login(bob)
    html = client.get(
        "/dashboard/lists/planned/", NOVEMBER, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert html.count('data-testid="row"') == 50
    assert (
        '<nav class="d-flex align-items-center justify-content-between mt-3" aria-label="Pages">'
        in html
    )

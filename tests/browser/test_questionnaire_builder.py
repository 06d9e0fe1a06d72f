"""In Chromium: a supervisor builds a questionnaire without writing JSON — a choice question
with scored options, a 0–10 scale asked only after one answer, a scoring band and a flag —
renames the first question (its skip logic and flag follow), saves it, and the preview asks
the scale only after that answer."""

from typing import Any

import pytest
from playwright.sync_api import expect

from careloop.questionnaires.models import Questionnaire
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_building_a_questionnaire_in_the_browser(page: Any, bob: Any) -> None:
    sign_in(page, "bob")
    page.goto("/questionnaires/")
    page.get_by_test_id("new-questionnaire").click()

    builder = page.get_by_test_id("builder")
    builder.locator('[data-field="code"]').fill("wound-check")
    builder.locator('[data-field="title"]').fill("伤口自查")
    first = builder.get_by_test_id("builder-item").nth(0)
    first.locator('[data-field="text"]').fill("伤口有没有红肿渗液？")
    for value, label, score in [("no", "没有", "0"), ("yes", "有", "2")]:
        first.get_by_role("button", name="添加选项").click()
        row = first.get_by_test_id("options").locator("tbody tr").last
        row.locator('[data-field="value"]').fill(value)
        row.locator('[data-field="label"]').fill(label)
        row.locator('[data-field="score"]').fill(score)
    first.locator('[data-field="scored"]').check()

    builder.get_by_test_id("add-item").click()
    second = builder.get_by_test_id("builder-item").nth(1)
    second.locator('[data-field="type"]').select_option("scale")
    second.locator('[data-field="key"]').fill("pain")
    second.locator('[data-field="key"]').press("Tab")
    second = builder.get_by_test_id("builder-item").nth(1)
    second.locator('[data-field="text"]').fill("疼痛有多重？")
    second.locator('[data-field="when-item"]').select_option("q1")
    second.locator('[data-field="when-value"]').select_option("yes")

    page.get_by_role("button", name="添加分级").click()
    band = builder.get_by_test_id("bands").locator("tbody tr").last
    band.locator('[data-field="max"]').fill("2")
    band.locator('[data-field="label"]').fill("需关注")
    builder.get_by_test_id("add-flag").click()
    flag = builder.get_by_test_id("flag")
    flag.locator('[data-field="when-value"]').select_option("yes")
    flag.locator('[data-field="title"]').fill("伤口红肿渗液")

    first.locator('[data-field="key"]').fill("wound")  # renamed: skip logic and flag follow
    first.locator('[data-field="key"]').press("Tab")
    page.get_by_test_id("save").click()

    page.wait_for_url("**/questionnaires/wound-check/")
    definition = Questionnaire.objects.get(code="wound-check").versions.get().definition
    assert definition["items"][0]["options"][1] == {"value": "yes", "label": "有", "score": 2}
    assert definition["items"][1]["enable_when"] == {"item": "wound", "equals": "yes"}
    assert definition["scoring"] == {
        "items": ["wound"],
        "bands": [{"min": 0, "max": 2, "label": "需关注"}],
    }
    assert definition["flags"] == [
        {"item": "wound", "equals": "yes", "title": "伤口红肿渗液", "severity": "high"}
    ]
    preview = page.get_by_test_id("preview")
    expect(preview.get_by_test_id("item-pain")).to_be_hidden()
    preview.get_by_test_id("item-wound").get_by_label("有", exact=True).check()
    expect(preview.get_by_test_id("item-pain")).to_be_visible()
    expect(page.get_by_test_id("builder-item")).to_have_count(
        2
    )  # the builder holds the saved version

"""In Chromium: an administrator edits a rule, sees a wrong condition refused on its field,
dry-runs the rule and saves it as a new version."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from careloop.accounts.roles import Role
from careloop.rules.models import Rule
from careloop.rules.pack import load_pack
from careloop.rules.services import do_save_rule
from tests.browser.helpers import sign_in
from tests.factories import PatientFactory, UserFactory
from tests.test_rules import SBP, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_edit_a_rule_dry_run_and_save(page: Any, hospital: Any) -> None:
    load_pack()
    do_save_rule(None, "sbp-rising-3", {"enabled": False})  # v2: readings come before it is on
    patient = PatientFactory(organisation=hospital, name="赵秀英")
    start = timezone.now() - timedelta(days=5)
    for day, value in enumerate([150, 162, 171]):
        store(patient, SBP, value, start + timedelta(days=day))
    editor = UserFactory(username="rita", organisation=hospital, role=Role.SUPERVISOR)
    editor.user_permissions.add(Permission.objects.get(codename="change_rule"))

    sign_in(page, "rita")
    page.goto("/rules/")
    page.get_by_role("link", name="收缩压连续 3 次升高").click()

    page.get_by_test_id("condition-json").locator("summary").click()
    condition = page.locator("#id_condition")
    condition.fill('{"kind": "trend", "code": "8480-6", "count": 1, "direction": "rising"}')
    page.get_by_test_id("save-rule").click()
    expect(page.locator("#id_condition_error")).to_contain_text(
        "condition.count：须在 2 到 20 之间"
    )

    condition.fill('{"kind": "trend", "code": "8480-6", "count": 3, "direction": "rising"}')
    page.select_option("#days", "7")
    page.get_by_test_id("dry-run").click()
    result = page.get_by_test_id("dry-run-result")
    expect(result).to_contain_text("赵秀英")
    expect(result).to_contain_text("150 → 162 → 171")
    assert not patient.tags.exists()  # a dry run writes nothing

    page.check("#id_enabled")
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("versions")).to_contain_text("v3")
    rule = Rule.objects.get(code="sbp-rising-3")
    assert rule.enabled and rule.version == 3 and rule.updated_by == editor

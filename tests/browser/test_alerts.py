"""In Chromium: a nurse acknowledges and resolves an alert; her supervisor finds it among
those waiting for verification and verifies it."""

from typing import Any

import pytest
from playwright.sync_api import expect

from careloop.accounts.roles import Role
from careloop.followup.models import Alert
from careloop.followup.services import raise_alert
from tests.browser.helpers import sign_in
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, username: str) -> None:
    page.context.clear_cookies()
    sign_in(page, username)


def test_a_nurse_resolves_an_alert_and_a_supervisor_verifies_it(page: Any, hospital: Any) -> None:
    nurse = UserFactory(
        username="nina", display_name="王护士", organisation=hospital, role=Role.NURSE
    )
    UserFactory(username="sam", display_name="周主管", organisation=hospital, role=Role.SUPERVISOR)
    patient = PatientFactory(organisation=hospital, name="赵建华")
    alert = raise_alert(
        patient,
        kind=Alert.Kind.CRITICAL_VALUE,
        severity=Alert.Severity.CRITICAL,
        title="危急值：血糖 2.6 mmol/L",
        reason="血糖 2.6 mmol/L，过低，达到危急值（< 2.8）。",
        assignee_id=nurse.pk,
    )

    log_in(page, "nina")
    page.get_by_role("link", name="预警").first.click()
    listing = page.get_by_test_id("alert-list")
    expect(listing).to_contain_text("赵建华")
    listing.get_by_test_id("alert-link").first.click()
    expect(page.get_by_test_id("alert-reason")).to_contain_text("达到危急值")
    page.get_by_test_id("alert-acknowledge").click()
    expect(page.get_by_test_id("alert-state")).to_contain_text("已确认")
    page.select_option("#r-resolution", "handled")
    page.fill("#r-outcome", "已电话联系，患者已进食，半小时后复测 5.1")
    page.get_by_test_id("alert-resolve").click()
    expect(page.get_by_test_id("alert-state")).to_contain_text("已处理")
    expect(page.get_by_test_id("alert-verify")).to_have_count(0)

    log_in(page, "sam")
    page.goto("/alerts/?scope=all&status=resolved")
    page.get_by_test_id("alert-list").get_by_test_id("alert-link").first.click()
    expect(page.get_by_test_id("alert-outcome")).to_contain_text("半小时后复测")
    page.fill("#v-note", "处理及时")
    page.get_by_test_id("alert-verify").click()
    expect(page.get_by_test_id("alert-state")).to_contain_text("已核实")
    history = page.get_by_test_id("alert-history")
    expect(history).to_contain_text("王护士")
    expect(history).to_contain_text("周主管")
    alert.refresh_from_db()
    assert alert.status == "verified" and alert.verified_by.username == "sam"

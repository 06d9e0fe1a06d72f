"""In Chromium: log in, enrol, search by phone, reveal the masked ID, find it in the audit log."""

import re
from base64 import b32decode
from datetime import date
from typing import Any

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from careloop.accounts.roles import Role
from careloop.patients.models import Patient
from tests.browser.helpers import sign_in
from tests.factories import UserFactory, valid_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_enrol_search_reveal_and_audit(page: Any, hospital: Any) -> None:
    UserFactory(username="bob", display_name="周博", organisation=hospital, role=Role.SUPERVISOR)
    id_number = valid_id(date(1961, 8, 20), male=False)
    sign_in(page, "bob")
    expect(page).to_have_url("/dashboard/")  # a supervisor starts on the dashboard
    page.goto("/")
    expect(page.locator("h1")).to_contain_text("周博")

    # Enrol from the keyboard shortcut N.
    page.keyboard.press("n")
    expect(page).to_have_url("/patients/new/")
    page.fill("#id_name", "孙丽华")
    page.fill("#id_id_number", id_number)
    page.fill("#id_phone", "13866668888")
    page.check("input[value='followup:phone']")
    page.fill("#id_contacts-0-name", "孙强")
    page.fill("#id_contacts-0-phone", "13955556666")
    page.get_by_test_id("patient-form").locator("button[type=submit]").click()
    patient = Patient.objects.get(name="孙丽华")
    expect(page.get_by_test_id("card-number")).to_have_text(patient.formatted_card_number)
    assert (patient.sex, patient.birth_date) == ("female", date(1961, 8, 20))

    # Search by phone from the top bar (the / shortcut focuses it).
    page.goto("/")
    page.keyboard.press("/")
    page.keyboard.type("138 6666 8888")
    page.keyboard.press("Enter")
    table = page.get_by_test_id("patient-table")
    expect(table).to_contain_text("孙丽华")
    masked = id_number[:6] + "********" + id_number[-4:]
    expect(table).to_contain_text(masked)
    assert id_number not in page.content()

    # Open the patient: masked until revealed, then the full number.
    table.get_by_role("link", name="孙丽华").click()
    expect(page.get_by_test_id("masked-id_number")).to_have_text(masked)
    page.get_by_test_id("reveal-id_number").click()
    expect(page.get_by_test_id("revealed-id_number")).to_have_text(id_number)

    # The reveal is in the audit log.
    page.goto(f"/audit/?action=reveal&card={patient.card_number}")
    rows = page.get_by_test_id("audit-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("bob")
    expect(rows.first).to_contain_text("孙丽华")


def test_an_invalid_id_is_explained_on_the_form(page: Any, hospital: Any) -> None:
    UserFactory(username="alice", organisation=hospital, role=Role.NURSE)
    sign_in(page, "alice")
    page.goto("/patients/new/")
    page.fill("#id_name", "钱七")
    good = valid_id(date(1970, 1, 1))
    page.fill("#id_id_number", good[:-1] + ("1" if good[-1] == "0" else "0"))
    page.get_by_test_id("patient-form").locator("button[type=submit]").click()
    error = page.locator("#id_id_number_error")
    expect(error).to_be_visible()
    expect(page.locator("#id_id_number")).to_be_focused()
    assert Patient.objects.count() == 0


def test_an_administrator_pairs_an_authenticator(page: Any, hospital: Any) -> None:
    UserFactory(username="root", organisation=hospital, role=Role.ADMIN)
    sign_in(page, "root")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/setup/"))
    expect(page.locator(".qr-code svg")).to_be_visible()
    secret = page.get_by_test_id("otp-secret").inner_text().replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_token", f"{totp(key):06d}")
    page.locator("form:has(#id_token) button[type=submit]").click()
    page.goto("/admin/")
    expect(page.locator("#site-name")).to_be_visible()

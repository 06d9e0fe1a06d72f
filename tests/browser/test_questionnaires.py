"""In Chromium: a nurse opens the patient, fills the post-discharge symptom check; the pain
score is asked only after "有" chest pain; saving it raises the alert."""

from typing import Any

import pytest
from playwright.sync_api import expect

from careloop.followup.models import Alert
from careloop.questionnaires.models import QuestionnaireResponse
from careloop.questionnaires.services import load_pack
from tests.browser.helpers import sign_in
from tests.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_skip_logic_and_saving_the_symptom_check(page: Any, hospital: Any, alice: Any) -> None:
    load_pack()
    patient = PatientFactory(organisation=hospital, name="钱淑芬")
    sign_in(page, "alice")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_test_id("fill-questionnaire").click()
    page.get_by_role("link", name="出院后症状问询").click()

    score = page.get_by_test_id("item-chest_pain_score")
    expect(score).to_be_hidden()
    chest = page.get_by_test_id("item-chest_pain")
    chest.get_by_label("有", exact=True).check()
    expect(score).to_be_visible()
    chest.get_by_label("没有", exact=True).check()
    expect(score).to_be_hidden()
    chest.get_by_label("有", exact=True).check()
    score.get_by_text("9", exact=True).click()
    page.get_by_test_id("item-dyspnoea").get_by_label("没有", exact=True).check()
    page.get_by_test_id("item-oedema").get_by_label("有", exact=True).check()
    page.get_by_test_id("item-medication").get_by_label("按时服药").check()
    page.get_by_test_id("submit").click()

    page.wait_for_url(f"**/patients/{patient.pk}/")
    expect(page.get_by_test_id("questionnaire-answers")).to_contain_text("出院后症状问询")
    response = QuestionnaireResponse.objects.get(patient=patient)
    assert response.answers["chest_pain_score"] == 9 and response.answers["oedema"] == "yes"
    alert = Alert.objects.get(patient=patient)
    assert alert.severity == Alert.Severity.CRITICAL and "水肿" in alert.reason

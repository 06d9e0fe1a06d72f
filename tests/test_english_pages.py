"""The staff pages read English on an English page and Chinese on the Chinese one (a walk of
every page with the language switched): labels built once at import, or written in Chinese in
the code, showed Chinese to an English reader."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone, translation

from careloop.followup.models import Alert, Pathway
from careloop.followup.pathways import load_pack as load_pathways
from careloop.followup.planning import enrol
from careloop.followup.services import raise_alert
from careloop.rules.builder import action_types, condition_kinds
from careloop.rules.models import RiskAssessment
from tests.test_patients_web import logged_in

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_the_enrolment_forms_consent_choices_are_in_the_pages_language(alice: Any) -> None:
    client = logged_in(alice)
    english = client.get("/patients/new/", **EN).content.decode()
    assert "follow-up · phone call" in english and "health education · SMS" in english
    assert "随访 · 电话" not in english
    chinese = client.get("/patients/new/", **ZH).content.decode()
    assert "随访 · 电话" in chinese and "follow-up · phone call" not in chinese


def test_the_patient_pages_risk_assessments_are_titled_in_the_pages_language(
    alice: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=alice.organisation)
    for model in ("bp-grade", "egfr"):
        RiskAssessment.objects.create(
            patient=patient,
            model=model,
            version="2018",
            category="1级高血压",  # what the clinical model stored: shown as it is
            inputs={},
            result={},
            explanation="收缩压 152 mmHg，属于 1 级高血压。",
        )
    client = logged_in(alice)
    english = client.get(f"/patients/{patient.pk}/", **EN).content.decode()
    assert "Blood pressure grade" in english and "Kidney function (eGFR / CKD stage)" in english
    assert "血压分级" not in english and "肾功能" not in english
    chinese = client.get(f"/patients/{patient.pk}/", **ZH).content.decode()
    assert "血压分级" in chinese and "肾功能（eGFR / CKD 分期）" in chinese
    assert "Blood pressure grade" not in chinese


def test_the_alert_pages_breadcrumb_is_named_in_the_pages_language(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    alert = raise_alert(
        patient,
        kind=Alert.Kind.RULE,
        severity=Alert.Severity.HIGH,
        title="收缩压 182",
        reason="收缩压≥180 mmHg",
        assignee_id=alice.pk,
    )
    chinese = logged_in(alice).get(f"/alerts/{alert.pk}/", **ZH).content.decode()
    assert 'aria-label="导航路径"' in chinese and 'aria-label="breadcrumbs"' not in chinese


def test_the_diagnosis_picker_names_the_catalogues_diagnoses_in_english_too(
    carol: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=carol.organisation)
    client, url = logged_in(carol), f"/patients/{patient.pk}/record/diagnosis/add/"
    english = client.get(url, **EN).content.decode()
    assert '<option value="I10">Essential (primary) hypertension · 原发性高血压</option>' in english
    chinese = client.get(url, **ZH).content.decode()
    assert '<option value="I10">原发性高血压</option>' in chinese


def test_the_rule_builder_names_the_risk_models_in_the_pages_language() -> None:
    def models() -> dict[str, str]:
        return dict(condition_kinds()["risk"]["fields"][0]["choices"])

    with translation.override("en"):
        assert models()["bp-grade"] == "Blood pressure grade"
    with translation.override("zh-hans"):
        assert models()["bp-grade"] == "血压分级"


def test_the_message_templates_name_what_a_follow_up_is_for_in_the_pages_language(
    alice: Any,
) -> None:
    client = logged_in(alice)
    english = client.get("/outreach/templates/", **EN).content.decode()
    assert "condition tracking" in english and "revisit reminder" in english
    assert "病情跟踪" not in english and "复诊提醒" not in english
    chinese = client.get("/outreach/templates/", **ZH).content.decode()
    assert "病情跟踪" in chinese and "condition tracking" not in chinese


def test_a_plan_on_the_patient_page_reads_from_its_start_not_from_a_sender(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    # "from 2026-11-17" was the message's "from" (来自, sent by): "来自 2026-11-17".
    load_pathways()
    patient = patient_factory(organisation=hospital)
    anchor = timezone.now() - timedelta(days=1)
    enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual", anchor=anchor)
    day = timezone.localtime(anchor).strftime("%Y-%m-%d")
    client = logged_in(alice)
    chinese = client.get(f"/patients/{patient.pk}/", **ZH).content.decode()
    assert f"{day} 起" in chinese and f"来自 {day}" not in chinese
    assert f"from {day}" in client.get(f"/patients/{patient.pk}/", **EN).content.decode()


def test_the_rule_builder_asks_whom_to_notify_not_when_a_period_ends() -> None:
    with translation.override("zh-hans"):
        to = action_types([])["notify"]["fields"][1]
    assert to["key"] == "to" and to["label"] == "通知对象"


def test_the_language_switch_names_english_in_english_on_the_chinese_pages(alice: Any) -> None:
    # Django's language names are translated: a reader of English looking for their language
    # on the Chinese log-in page found only "简体中文" and "英语".
    login = Client().get("/accounts/login/", **ZH).content.decode()
    assert '<option value="en" lang="en">English</option>' in login and "英语" not in login
    page = logged_in(alice).get("/patients/", **ZH).content.decode()
    assert '<option value="en" lang="en">English</option>' in page and "英语" not in page
    english = logged_in(alice).get("/patients/", **EN).content.decode()
    assert '<option value="zh-hans" lang="zh-hans">简体中文</option>' in english

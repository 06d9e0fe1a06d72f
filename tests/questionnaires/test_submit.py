"""Questionnaires saved and versioned, the pack loaded, answers submitted: scored and stored,
flags raised as one alert, the questionnaire rules run, the follow-up that asked completed;
the CLI exports and imports FHIR."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from careloop.followup.models import Alert, FollowUpRecord, Task
from careloop.questionnaires.definition import AnswerError
from careloop.questionnaires.models import Questionnaire, QuestionnaireResponse
from careloop.questionnaires.services import current, do_save_questionnaire, load_pack, submit
from careloop.rules.models import RuleFiring
from careloop.rules.services import do_save_rule

pytestmark = pytest.mark.django_db


def phq(*scores: int) -> dict[str, str]:
    return {f"q{n}": str(s) for n, s in enumerate(scores, start=1)}


def test_the_pack_loads_once_and_a_change_is_a_new_version(alice: Any) -> None:
    assert [q["changed"] for q in load_pack()] == [True] * 5  # with the TCM constitution one
    assert [q["changed"] for q in load_pack()] == [False] * 5
    first = current("phq9")
    data = dict(first.definition, title="PHQ-9 抑郁筛查（修订）")
    row, changed = do_save_questionnaire(None, data)  # the command line's import
    assert changed and row.version == 2 and row.title == "PHQ-9 抑郁筛查（修订）"
    assert current("phq9").version == 2
    assert first.pk != current("phq9").pk  # the old version stays for its answers


def test_phq9_item_9_raises_a_critical_alert_and_completes_the_follow_up(
    alice: Any, hospital: Any, patient_factory: Any
) -> None:
    load_pack()
    patient = patient_factory(organisation=hospital)
    now = datetime.now().astimezone()
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="心理随访",
        purpose="emotional_care",
        channel="phone",
        channels=["phone"],
        due_at=now,
        deadline=now + timedelta(days=1),
    )
    done = submit(
        current("phq9"),
        patient,
        phq(2, 2, 1, 1, 1, 1, 1, 0, 1),
        source="staff",
        actor=alice,
        task=task,
    )
    response = QuestionnaireResponse.objects.get()
    assert (response.total, response.band) == (10, "中度抑郁")
    assert response.submitted_by == alice
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity) == (Alert.Kind.QUESTIONNAIRE, Alert.Severity.CRITICAL)
    assert alert.title == "PHQ-9 抑郁症筛查量表：PHQ-9 第9题阳性：有自伤或轻生念头"
    assert "总分 10（中度抑郁）" in alert.reason and "自伤风险" in alert.reason
    assert response.alert == alert == done.response.alert
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    entry = FollowUpRecord.objects.get(task=task)
    assert entry.answers["questionnaire"] == "phq9" and entry.answers["total"] == 10


def test_wrong_answers_store_nothing(hospital: Any, patient_factory: Any) -> None:
    load_pack()
    with pytest.raises(AnswerError) as raised:
        submit(current("gad7"), patient_factory(organisation=hospital), {"q1": "5"}, source="staff")
    assert raised.value.errors["q1"] == "不是可选的答案" and raised.value.errors["q7"] == "必答题"
    assert not QuestionnaireResponse.objects.exists() and not Alert.objects.exists()


def test_questionnaire_rules_read_the_answers(hospital: Any, patient_factory: Any) -> None:
    load_pack()
    do_save_rule(
        None,
        "gad7-sleep",
        {
            "name": "GAD-7 很难放松",
            "enabled": True,
            "trigger": "questionnaire",
            "condition": {
                "kind": "answer",
                "questionnaire": "gad7",
                "item": "q4",
                "op": ">=",
                "value": "2",
            },
            "actions": [{"type": "tag", "tag": "焦虑关注"}],
        },
    )
    patient = patient_factory(organisation=hospital)
    calm = submit(current("gad7"), patient, phq(0, 0, 0, 1, 0, 0, 0), source="patient")
    assert calm.rules_fired == 0
    tense = submit(current("gad7"), patient, phq(1, 1, 1, 3, 0, 0, 0), source="patient")
    assert tense.rules_fired == 1
    assert "gad7 第 q4 题答 3" in " ".join(RuleFiring.objects.get().reasons)


def test_cli_exports_and_imports_fhir(tmp_path: Any) -> None:
    call_command("questionnaires", "load-pack", stdout=io.StringIO())
    out = io.StringIO()
    call_command("questionnaires", "export", "satisfaction", stdout=out)
    resource = json.loads(out.getvalue())
    assert resource["resourceType"] == "Questionnaire" and resource["version"] == "1"
    resource["title"] = "出院满意度调查"
    path = tmp_path / "q.json"
    path.write_text(json.dumps(resource, ensure_ascii=False), encoding="utf-8")
    saved = io.StringIO()
    call_command("questionnaires", "import", str(path), stdout=saved)
    assert json.loads(saved.getvalue()) == {
        "code": "satisfaction",
        "version": 2,
        "url": "urn:careloop:questionnaire:satisfaction",
        "changed": True,
    }
    assert Questionnaire.objects.get(code="satisfaction").title == "出院满意度调查"
    path.write_text('{"resourceType": "Questionnaire", "item": [{"linkId": "a", "type": "url"}]}')
    with pytest.raises(CommandError) as raised:
        call_command("questionnaires", "import", str(path), stdout=io.StringIO())
    assert "item[0].type" in str(raised.value)


def test_written_words_are_read_for_symptoms_once(hospital: Any, patient_factory: Any) -> None:
    load_pack()
    patient = patient_factory(organisation=hospital)
    answers = {"chest_pain": "no", "dyspnoea": "no", "oedema": "no", "medication": "regular"}
    version = current("discharge-symptoms")
    # A nurse's note reads like advice: hers to act on, no alert.
    submit(version, patient, {**answers, "other": "已告知如有胸痛及时就医"}, source="staff")
    assert not Alert.objects.exists()
    # The patient's own words over FHIR (an app): read as a reply is.
    done = submit(version, patient, {**answers, "other": "最近总想不开，不想活了"}, source="fhir")
    assert done.response.alert.severity == Alert.Severity.CRITICAL
    # Answers that raise their own flag alert: the words go on its history, not a second one.
    flagged = submit(
        version,
        patient,
        {**answers, "chest_pain": "yes", "chest_pain_score": "8", "other": "昨晚胸口疼得厉害"},
        source="patient",
    )
    assert Alert.objects.filter(kind="questionnaire").count() == 2
    assert flagged.response.alert is not None
    assert "胸口疼" in flagged.response.alert.events.get(action="note").note

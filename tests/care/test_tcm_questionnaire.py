"""The TCM constitution questionnaire as shipped: each shared question asked once; answers
scored by the 中医体质 model, its main constitution the response's result, kept as a risk
assessment, and its regimen drafted into the health plan."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.care.plans import draft_sections
from careloop.questionnaires.definition import AnswerError
from careloop.questionnaires.services import current, load_pack, submit
from careloop.rules.models import RiskAssessment

pytestmark = pytest.mark.django_db


def test_the_constitution_questionnaire(hospital: Any, patient_factory: Any, alice: Any) -> None:
    load_pack()
    version = current("tcm-constitution")
    assert version is not None
    keys = [item["key"] for item in version.definition["items"]]
    assert len(keys) == 60 and "B1" not in keys and "A2" in keys  # 容易疲乏 asked once
    patient = patient_factory(organisation=hospital, sex="male")
    answers = {key: "1" for key in keys}
    answers.update({f"C{n}": "4" for n in (1, 2, 3, 6, 7)} | {"A5": "4", "B5": "4"})
    done = submit(version, patient, answers, source="staff", actor=alice)
    assert done.response.band == "阳虚质"  # (28 − 7) ÷ 28 × 100 = 75
    kept = RiskAssessment.objects.get(patient=patient, model="tcm-constitution")
    assert kept.category == "阳虚质" and kept.result["converted"]["阳虚质"] == 75.0
    assert "调养建议（阳虚质）" in kept.explanation
    assert any(s["source"] == "tcm-阳虚质" for s in draft_sections(patient))

    with pytest.raises(AnswerError) as wrong:
        submit(version, patient, {**answers, "C1": "9"}, source="staff", actor=alice)
    assert "C1" in wrong.value.errors

"""Questionnaires to and from FHIR R4: valid resources (fhir.resources R4B), a round trip
that changes nothing, a Questionnaire from elsewhere, answers as QuestionnaireResponse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from careloop.questionnaires.definition import DefinitionError, compile_definition, evaluate
from careloop.questionnaires.fhir import from_questionnaire, to_questionnaire, to_response

PACK = json.loads(
    (Path(__file__).resolve().parents[2] / "careloop/questionnaires/data/pack.json").read_text()
)["questionnaires"]


@pytest.mark.parametrize("source", PACK, ids=[q["code"] for q in PACK])
def test_an_exported_questionnaire_is_valid_fhir_and_imports_back_unchanged(source: dict) -> None:
    definition = compile_definition(source)
    resource = to_questionnaire(definition, source, version=3)
    Questionnaire.model_validate(resource)  # raises when not valid R4
    assert resource["url"] == f"urn:careloop:questionnaire:{source['code']}"
    assert resource["version"] == "3"
    assert compile_definition(from_questionnaire(resource)) == definition


def test_items_map_to_fhir_types() -> None:
    source = next(q for q in PACK if q["code"] == "discharge-symptoms")
    items = {
        i["linkId"]: i for i in to_questionnaire(compile_definition(source), source, 1)["item"]
    }
    score = items["chest_pain_score"]
    assert score["type"] == "integer"
    assert score["enableWhen"] == [
        {
            "question": "chest_pain",
            "operator": "=",
            "answerCoding": {"code": "yes", "display": "有"},
        }
    ]
    weight = items["weight_kg"]
    assert weight["type"] == "decimal" and weight["required"] is False
    assert {
        "url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unit",
        "valueCoding": {"system": "http://unitsofmeasure.org", "code": "kg"},
    } in weight["extension"]
    phq = next(q for q in PACK if q["code"] == "phq9")
    first = to_questionnaire(compile_definition(phq), phq, 1)["item"][0]["answerOption"][3]
    assert first["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 3.0}
    ]


def test_a_questionnaire_from_elsewhere_imports_without_scoring() -> None:
    resource = {
        "resourceType": "Questionnaire",
        "name": "Sleep_Check",
        "title": "睡眠情况",
        "status": "active",
        "item": [
            {
                "linkId": "1",
                "text": "睡得好吗",
                "type": "choice",
                "required": True,
                "answerOption": [
                    {"valueCoding": {"code": "y", "display": "好"}},
                    {"valueCoding": {"code": "n", "display": "不好"}},
                ],
            },
            {
                "linkId": "2",
                "text": "为什么",
                "type": "string",
                "enableWhen": [{"question": "1", "operator": "=", "answerCoding": {"code": "n"}}],
            },
        ],
    }
    data = from_questionnaire(resource)
    definition = compile_definition(data)
    assert definition.code == "sleep-check"
    assert [i.type for i in definition.items] == ["choice", "text"]
    assert evaluate(definition, {"1": "n", "2": "夜里醒"}).answers == {"1": "n", "2": "夜里醒"}
    with pytest.raises(DefinitionError) as raised:
        from_questionnaire({**resource, "item": [{"linkId": "x", "type": "attachment"}]})
    assert raised.value.path == "item[0].type"


def test_answers_as_a_valid_questionnaire_response() -> None:
    source = next(q for q in PACK if q["code"] == "satisfaction")
    definition = compile_definition(source)
    result = evaluate(
        definition,
        {
            "recommend": 9,
            "overall": "5",
            "aspects": {
                "doctor": "good",
                "nurse": "good",
                "waiting": "fair",
                "environment": "good",
            },
        },
    )
    response = to_response(
        definition,
        2,
        result.answers,
        response_id=7,
        patient_id=42,
        authored="2026-12-03T10:00:00+08:00",
    )
    QuestionnaireResponse.model_validate(response)
    assert response["questionnaire"] == "urn:careloop:questionnaire:satisfaction|2"
    items = {i["linkId"]: i for i in response["item"]}
    assert items["recommend"]["answer"] == [{"valueInteger": 9}]
    assert items["overall"]["answer"] == [{"valueCoding": {"code": "5", "display": "很满意"}}]
    assert items["aspects"]["item"][2] == {
        "linkId": "aspects.waiting",
        "text": "等候时间",
        "answer": [{"valueCoding": {"code": "fair", "display": "一般"}}],
    }

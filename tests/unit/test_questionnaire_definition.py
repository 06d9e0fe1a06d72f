"""Questionnaire definitions (pure): the shipped PHQ-9, GAD-7, symptom check and satisfaction
survey score as published; skip logic, answer checks and definition errors are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from careloop.questionnaires.definition import (
    AnswerError,
    Definition,
    DefinitionError,
    compile_definition,
    evaluate,
    visible,
)

PACK = Path(__file__).resolve().parents[2] / "careloop/questionnaires/data/pack.json"


def shipped(code: str) -> Definition:
    data = json.loads(PACK.read_text())["questionnaires"]
    return compile_definition(next(q for q in data if q["code"] == code))


def answers(*scores: int) -> dict[str, str]:
    return {f"q{n}": str(score) for n, score in enumerate(scores, start=1)}


@pytest.mark.parametrize(
    ("scores", "total", "band"),
    [
        ((0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "无抑郁症状或极轻微"),
        ((1, 1, 1, 1, 0, 0, 0, 0, 0), 4, "无抑郁症状或极轻微"),
        ((1, 1, 1, 1, 1, 0, 0, 0, 0), 5, "轻度抑郁"),
        ((2, 2, 2, 2, 1, 0, 0, 0, 0), 9, "轻度抑郁"),
        ((2, 2, 2, 2, 2, 0, 0, 0, 0), 10, "中度抑郁"),
        ((3, 3, 3, 3, 2, 1, 0, 0, 0), 15, "中重度抑郁"),
        ((3, 3, 3, 3, 3, 3, 1, 1, 0), 20, "重度抑郁"),
        ((3, 3, 3, 3, 3, 3, 3, 3, 3), 27, "重度抑郁"),
    ],
)
def test_phq9_total_and_severity(scores: tuple, total: int, band: str) -> None:
    result = evaluate(shipped("phq9"), answers(*scores))
    assert (result.total, result.band) == (total, band)


def test_phq9_item_9_is_a_critical_flag_whatever_the_total() -> None:
    result = evaluate(shipped("phq9"), answers(0, 0, 0, 0, 0, 0, 0, 0, 1))
    assert result.total == 1
    [flag] = result.flags
    assert (flag.symptom, flag.severity) == ("自伤风险", "critical")
    severe = evaluate(shipped("phq9"), answers(3, 3, 3, 3, 3, 3, 2, 0, 0))
    assert sorted(f.severity for f in severe.flags) == ["high", "medium"]  # ≥20 and ≥10


@pytest.mark.parametrize(
    ("scores", "band"),
    [
        ((0, 0, 0, 0, 1, 1, 2), "无焦虑症状或极轻微"),
        ((1, 1, 1, 1, 1, 0, 0), "轻度焦虑"),
        ((2, 2, 2, 2, 1, 1, 0), "中度焦虑"),
        ((3, 3, 3, 2, 2, 1, 1), "重度焦虑"),
    ],
)
def test_gad7_bands(scores: tuple, band: str) -> None:
    assert evaluate(shipped("gad7"), answers(*scores)).band == band


def test_skip_logic_asks_the_chest_pain_score_only_after_a_yes() -> None:
    definition = shipped("discharge-symptoms")
    base = {"chest_pain": "no", "dyspnoea": "no", "oedema": "no", "medication": "regular"}
    assert "chest_pain_score" not in [i.key for i in visible(definition, base)]
    hidden = evaluate(definition, {**base, "chest_pain_score": 9})  # not asked: dropped
    assert "chest_pain_score" not in hidden.answers and not hidden.flags
    with pytest.raises(AnswerError) as missing:
        evaluate(definition, {**base, "chest_pain": "yes"})
    assert missing.value.errors == {"chest_pain_score": "必答题"}
    severe = evaluate(definition, {**base, "chest_pain": "yes", "chest_pain_score": "8"})
    assert severe.answers["chest_pain_score"] == 8
    assert [f.severity for f in severe.flags] == ["critical", "high"]


def test_satisfaction_nps_groups_and_matrix() -> None:
    definition = shipped("satisfaction")
    for score, group in ((10, "promoter"), (9, "promoter"), (8, "passive"), (6, "detractor")):
        result = evaluate(definition, {"recommend": score, "overall": "4"})
        assert result.nps == group
    result = evaluate(
        definition,
        {
            "recommend": 3,
            "overall": "2",
            "aspects": {
                "doctor": "good",
                "nurse": "good",
                "waiting": "poor",
                "environment": "fair",
            },
        },
    )
    assert result.answers["aspects"]["waiting"] == "poor"
    assert [f.title for f in result.flags] == ["患者对就医不满意"]


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ({"recommend": 11, "overall": "4"}, {"recommend": "须在 0–10 之间"}),
        ({"recommend": 7.5, "overall": "4"}, {"recommend": "须为整数"}),
        (
            {"recommend": "很好", "overall": "9"},
            {"recommend": "须为数字", "overall": "不是可选的答案"},
        ),
        (
            {"recommend": 5, "overall": "4", "aspects": {"doctor": "good"}},
            {"aspects": "请为“护理服务”选择一项"},
        ),
        ({}, {"recommend": "必答题", "overall": "必答题"}),
    ],
)
def test_wrong_answers_are_named(raw: dict, errors: dict) -> None:
    with pytest.raises(AnswerError) as raised:
        evaluate(shipped("satisfaction"), raw)
    assert raised.value.errors == errors


def test_number_date_and_text_answers() -> None:
    definition = compile_definition(
        {
            "code": "t",
            "title": "测试",
            "items": [
                {"key": "w", "type": "number", "text": "体重", "unit": "kg", "min": 20},
                {"key": "d", "type": "date", "text": "日期"},
                {"key": "s", "type": "text", "text": "说明", "max_length": 4},
                {
                    "key": "m",
                    "type": "multi",
                    "text": "症状",
                    "options": [{"value": "a", "label": "头晕"}, {"value": "b", "label": "乏力"}],
                },
            ],
        }
    )
    ok = evaluate(definition, {"w": "62.5", "d": "2026-12-01", "s": " 还好 ", "m": ["a", "b"]})
    assert ok.answers == {"w": 62.5, "d": "2026-12-01", "s": "还好", "m": ["a", "b"]}
    with pytest.raises(AnswerError) as raised:
        evaluate(definition, {"w": 10, "d": "12/01", "s": "太长的说明", "m": ["c"]})
    assert raised.value.errors == {
        "w": "不能小于 20kg",
        "d": "须为 YYYY-MM-DD 形式的日期",
        "s": "最多 4 个字",
        "m": "不是可选的答案：c",
    }


ITEM = {"key": "a", "type": "choice", "text": "问题", "options": [{"value": "1", "label": "是"}]}


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"code": "x", "title": "t", "items": []}, "items", "须为一个非空列表"),
        (
            {"code": "x", "title": "t", "items": [{**ITEM, "type": "slider"}]},
            "items[0].type",
            "须为 choice、multi、number、text、date、scale、matrix 之一",
        ),
        ({"code": "x", "title": "t", "items": [ITEM, ITEM]}, "items[1].key", "题目 'a' 重复"),
        (
            {"code": "x", "title": "t", "items": [{**ITEM, "key": "问题"}]},
            "items[0].key",
            "只能用英文字母、数字、- 和 _",
        ),
        (
            {"code": "x", "title": "t", "items": [{**ITEM, "options": []}]},
            "items[0].options",
            "须为非空的选项列表",
        ),
        (
            {
                "code": "x",
                "title": "t",
                "items": [{**ITEM, "enable_when": {"item": "b", "equals": "1"}}],
            },
            "items[0].enable_when.item",
            "须为前面的题目（'b' 不是）",
        ),
        (
            {"code": "x", "title": "t", "items": [ITEM], "scoring": {"items": ["z"]}},
            "scoring.items[0]",
            "'z' 不是可计分的题目",
        ),
        (
            {"code": "x", "title": "t", "items": [ITEM], "flags": [{"title": "f"}]},
            "flags[0]",
            "须给出 item 与条件，或 total_at_least",
        ),
        (
            {"code": "x", "title": "t", "items": [ITEM], "nps": "a"},
            "nps",
            "须为一道 0–10 量表题的 key",
        ),
    ],
)
def test_definition_errors_are_named(data: Any, path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        compile_definition(data)
    assert (raised.value.path, raised.value.message) == (path, message)


def test_not_a_number_and_repeated_choices() -> None:
    satisfaction = shipped("satisfaction")
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(AnswerError) as raised:
            evaluate(satisfaction, {"recommend": bad, "overall": "4"})
        assert raised.value.errors == {"recommend": "须为数字"}
    scored = compile_definition(
        {
            "code": "m",
            "title": "多选计分",
            "items": [
                {
                    "key": "m",
                    "type": "multi",
                    "text": "症状",
                    "options": [
                        {"value": "1", "label": "头晕", "score": 5},
                        {"value": "2", "label": "乏力", "score": 1},
                    ],
                }
            ],
            "scoring": {"items": ["m"]},
            "flags": [{"total_at_least": 10, "title": "多症状"}],
        }
    )
    result = evaluate(scored, {"m": ["1", "1", "2"]})
    assert (result.answers["m"], result.total, result.flags) == (["1", "2"], 6, [])

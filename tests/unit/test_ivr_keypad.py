"""Which questionnaires a call can ask by keypad, and the words and keys of each question."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.outreach.ivr import Step, by_keypad, next_step, prompt, read_keys
from careloop.questionnaires.definition import compile_definition


def definition(*items: dict[str, Any]) -> Any:
    return compile_definition({"code": "t", "title": "测试", "items": list(items)})


YES_NO = [{"value": "no", "label": "没有"}, {"value": "yes", "label": "有"}]


def test_a_required_text_or_date_item_keeps_a_questionnaire_off_the_keypad() -> None:
    choice = {"key": "a", "type": "choice", "text": "头晕吗", "options": YES_NO}
    assert by_keypad(definition(choice))
    assert by_keypad(
        definition(choice, {"key": "b", "type": "text", "text": "备注", "required": False})
    )
    assert not by_keypad(definition(choice, {"key": "b", "type": "text", "text": "备注"}))
    assert not by_keypad(definition(choice, {"key": "d", "type": "date", "text": "日期"}))
    ten = [{"value": str(n), "label": f"选项{n}"} for n in range(10)]
    assert not by_keypad(definition({"key": "c", "type": "choice", "text": "选", "options": ten}))


def test_a_matrix_is_asked_row_by_row_and_skip_logic_follows_the_answers() -> None:
    d = definition(
        {"key": "dizzy", "type": "choice", "text": "头晕吗", "options": YES_NO},
        {
            "key": "how",
            "type": "matrix",
            "text": "头晕时",
            "rows": [{"key": "am", "text": "早上"}, {"key": "pm", "text": "晚上"}],
            "options": [{"value": "1", "label": "轻"}, {"value": "2", "label": "重"}],
            "enable_when": {"item": "dizzy", "equals": "yes"},
        },
    )
    assert next_step(d, {"dizzy": "no"}) is None
    step = next_step(d, {"dizzy": "yes"})
    assert step is not None and step.key == "how/am"
    assert prompt(step) == "头晕时：早上。轻请按1；重请按2。"
    assert next_step(d, {"dizzy": "yes", "how": {"am": "2"}}).key == "how/pm"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("keys", "value", "problem"),
    [
        ("1", "no", ""),
        ("2", "yes", ""),
        ("3", None, "您按的键不在选项中。"),
        ("", None, "未能识别您的按键。"),
    ],
)
def test_a_key_is_read_as_the_option_it_names(keys: str, value: Any, problem: str) -> None:
    d = definition({"key": "a", "type": "choice", "text": "头晕吗？", "options": YES_NO})
    assert read_keys(Step(d.items[0]), keys) == (value, problem)


def test_a_small_scale_takes_one_key_and_a_number_its_decimal_point_as_star() -> None:
    d = definition(
        {"key": "s", "type": "scale", "text": "疼痛", "min": 0, "max": 5},
        {"key": "w", "type": "number", "text": "体重", "unit": "kg", "min": 20, "max": 300},
    )
    scale, weight = Step(d.items[0]), Step(d.items[1])
    assert prompt(scale) == "疼痛。请按0到5之间的数字键。"
    assert read_keys(scale, "4") == (4, "")
    assert "小数点请按星号键" in prompt(weight)
    assert read_keys(weight, "70*5") == (70.5, "")
    value, problem = read_keys(weight, "7")
    assert value is None and problem.startswith("您输入的是7，")


def test_the_keys_said_back_read_star_and_pound_in_chinese() -> None:
    # The TTS reads "*" and "#" in a text as "star" and "pound".
    d = definition({"key": "s", "type": "scale", "text": "疼痛", "min": 0, "max": 5})
    value, problem = read_keys(Step(d.items[0]), "#")
    assert value is None and problem.startswith("您输入的是井号，")
    assert "#" not in problem

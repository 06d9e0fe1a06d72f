"""中医体质分类与判定 against hand-worked cases: converted scores, the reverse-scored 平和质
items, questions shared by two constitutions, the 是 / 基本是 / 倾向是 / 否 thresholds and
bad answers named."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.rules.risk.base import InputError
from careloop.rules.risk.registry import assess
from careloop.rules.risk.tcm import ITEMS, SAME_AS, TcmInput, tcm_constitution


def answers(**given: int) -> dict[str, float]:
    """Every question answered 没有 (1) except those given."""
    base: dict[str, float] = {k: 1 for k in ITEMS if k not in SAME_AS}
    for key, value in given.items():
        base.pop(SAME_AS.get(key, ""), None)
        base[key] = value
    return base


def run(**given: int) -> Any:
    return tcm_constitution(TcmInput(sex="female", answers=answers(**given)))


def test_a_balanced_constitution() -> None:
    result = run()
    assert result.raw["平和质"] == 32  # A1 and A6 score 1, the six reversed items 5
    assert result.converted["平和质"] == 75.0 and result.converted["气虚质"] == 0.0
    assert result.verdicts["平和质"] == "是" and result.category == "平和质"


def test_qi_deficiency_and_shared_questions() -> None:
    result = run(**{f"B{n}": 4 for n in range(1, 9)})
    assert result.converted["气虚质"] == 75.0 and result.verdicts["气虚质"] == "是"
    # A2 (= B1) and A3 (= B7) answered 4 count 2 for 平和质: 1+2+2+5+5+1+5+5 = 26
    assert result.raw["平和质"] == 26 and result.converted["平和质"] == 56.25
    assert result.verdicts["平和质"] == "否"
    # C5 (= B5) answered 4: 阳虚质 raw 10 → (10 − 7) ÷ 28 × 100
    assert result.converted["阳虚质"] == 10.71
    assert result.category == "气虚质" and result.constitutions == ["气虚质"]
    assert "调养建议（气虚质）" in result.explanation


def test_basically_balanced_with_a_leaning() -> None:
    result = run(I1=3, I2=3, I3=3, I4=3, I5=2, I6=1, I7=1)  # raw 16 → 32.14
    assert result.converted["特禀质"] == 32.14 and result.verdicts["特禀质"] == "倾向是"
    assert result.verdicts["平和质"] == "基本是"
    assert result.constitutions == ["平和质", "特禀质"] and result.category == "平和质"


@pytest.mark.parametrize(
    ("raw", "verdict"), [(19, "是"), (18, "倾向是"), (16, "倾向是"), (15, "否")]
)
def test_the_biased_thresholds(raw: int, verdict: str) -> None:
    # 气郁质 has 7 items: 19 → 42.86, 18 → 39.29, 16 → 32.14, 15 → 28.57
    extra = raw - 7
    given = {f"H{n}": 1 for n in range(2, 8)}
    for n in range(2, 8):
        step = min(extra, 4)
        given[f"H{n}"] += step
        extra -= step
    result = run(**given)
    expected = round((raw - 7) / 28 * 100, 2)
    assert result.raw["气郁质"] == raw and result.converted["气郁质"] == expected
    assert result.verdicts["气郁质"] == verdict


def test_bad_answers_are_named() -> None:
    given = answers()
    with pytest.raises(InputError, match=r"answers\.A1 is required"):
        TcmInput(sex="male", answers={k: v for k, v in given.items() if k != "A1"})
    with pytest.raises(InputError, match=r"answers\.C2 must be 1, 2, 3, 4 or 5"):
        TcmInput(sex="male", answers={**given, "C2": 6})
    with pytest.raises(InputError, match="same question as A2"):
        TcmInput(sex="male", answers={**given, "B1": 3, "A2": 4})
    with pytest.raises(InputError, match="unknown item"):
        TcmInput(sex="male", answers={**given, "Z9": 1})
    printed = assess("tcm-constitution", {"sex": "male", "answers": given})
    assert printed["category"] == "平和质" and printed["model"] == "tcm-constitution"

"""Symptom detection in Chinese replies, with negation and quoted questions."""

from __future__ import annotations

import json

import pytest

from careloop.cli import main
from careloop.outreach.symptoms import detect

CASES = [
    # (reply, present, negated)
    ("心口疼", ["胸痛胸闷"], []),
    ("喘不上气", ["呼吸困难"], []),
    ("这两天心慌", ["心悸"], []),
    ("没有胸痛", [], ["胸痛胸闷"]),
    ("胸不痛了", [], ["胸痛胸闷"]),
    ("无发热", [], ["发热"]),
    ("头也不晕了", [], ["头晕"]),
    ("伤口没有红肿", [], ["伤口异常"]),
    ("伤口有点红肿", ["伤口异常"], []),
    ("头晕好了", [], ["头晕"]),
    ("头晕没有缓解", ["头晕"], []),
    ("没有胸痛、气短", [], ["胸痛胸闷", "呼吸困难"]),
    ("没有胸痛，但是头有点晕", ["头晕"], ["胸痛胸闷"]),
    ("胸闷气短，晚上憋醒", ["胸痛胸闷", "呼吸困难"], []),
    ("最近睡不着，心情不好", ["情绪问题"], []),
    ("我真的不想活了", ["自伤风险"], []),
    ("我没有想过自杀", [], ["自伤风险"]),
    ("肿瘤科复查了，一切正常", [], []),
    ("烧饭的时候头晕", ["头晕"], []),
    ("体温38.5度", ["发热"], []),
    ("体温36.8，挺好的", [], ["发热"]),
    ("大便发黑", ["出血"], []),
    ("吃完饭想吐", ["恶心呕吐"], []),
    ("看东西模糊", ["视物模糊"], []),
    ("脚肿了两天", ["水肿"], []),
    # our question quoted back does not fire; a bare answer after it says yes or no
    ("您最近有没有胸痛？", [], []),
    ("您最近有没有胸痛、呼吸困难？没有", [], ["胸痛胸闷", "呼吸困难"]),
    ("您最近有无胸闷、下肢水肿等不适？请回复。\n有", ["胸痛胸闷", "水肿"], []),
    # the patient's own question about their symptom does fire
    ("我胸痛怎么办？", ["胸痛胸闷"], []),
]


@pytest.mark.parametrize(("text", "present", "negated"), CASES)
def test_detects_symptoms_and_negation(text: str, present: list[str], negated: list[str]) -> None:
    found = detect(text)
    assert list(found.symptoms) == present
    assert list(found.negated) == negated


def test_a_symptom_both_denied_and_reported_counts_as_present() -> None:
    found = detect("胸不痛了，不过又开始胸闷")
    assert found.symptoms == ("胸痛胸闷",)
    assert found.negated == ()


def test_reply_check_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    main(["reply-check", "心口疼，没有发热"])
    out = json.loads(capsys.readouterr().out)
    assert out == {"symptoms": ["胸痛胸闷"], "negated": ["发热"]}


def test_reply_check_refuses_empty_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["reply-check", "  "])
    assert stop.value.code == 2
    assert "empty" in capsys.readouterr().err

"""Symptom detection in Chinese replies, with negation and quoted questions."""

from __future__ import annotations

import json

import pytest

from careloop.cli import main
from careloop.outreach import symptom_words as words
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

# Misreadings an outside tester found, each standing for a rule.
TESTER_CASES = [
    # a negation of "the others" leaves the symptom said alone
    ("除了腿肿没别的", ["水肿"], []),
    # double negatives: a denial takes the negation back
    ("不是没有胸痛", ["胸痛胸闷"], []),
    ("不能说没有胸痛", ["胸痛胸闷"], []),
    # self-harm, said every way: always an urgent alert
    ("活够了", ["自伤风险"], []),
    ("不想活了", ["自伤风险"], []),
    ("活着没意思", ["自伤风险"], []),
    ("想死", ["自伤风险"], []),
    ("一了百了", ["自伤风险"], []),
    ("不如死了算了", ["自伤风险"], []),
    # colloquial forms
    ("脑壳疼", ["头痛"], []),
    ("眼睛看东西模模糊糊的", ["视物模糊"], []),
    ("尿里有血", ["出血"], []),
    ("胸口像压了块石头", ["胸痛胸闷"], []),
    ("心里扑通扑通的", ["心悸"], []),
    ("心口堵得慌", ["胸痛胸闷"], []),
    ("上气不接下气", ["呼吸困难"], []),
    ("头昏脑胀", ["头晕"], []),
    ("眼冒金星", ["头晕"], []),
    ("打摆子", ["发热"], []),
    # traditional characters
    ("胸悶", ["胸痛胸闷"], []),
    ("頭暈心慌", ["头晕", "心悸"], []),
    # a reported question (头晕不晕) then its answer
    ("你问我头晕不晕，不晕", [], ["头晕"]),
    # said of the past, gone now
    ("以前胸痛，现在没有了", [], ["胸痛胸闷"]),
    ("前两天发烧，今天好了", [], ["发热"]),
    # a bare answer: a sensation denied, or 我没有
    ("头痛吗？不痛", [], ["头痛"]),
    ("医生问我有没有胸痛，我没有", [], ["胸痛胸闷"]),
]

# More of the same rules, and what they must leave alone.
MORE_CASES = [
    ("头晕没有胸痛", ["头晕"], ["胸痛胸闷"]),
    ("除了腿肿，其他都好了", ["水肿"], []),
    ("除了腿肿都没有了", ["水肿"], []),
    ("不是头痛，是头晕", ["头晕"], ["头痛"]),
    ("不不不，我没有胸痛", [], ["胸痛胸闷"]),
    ("以前头晕，现在不晕了", [], ["头晕"]),
    ("胸痛，现在好了", [], ["胸痛胸闷"]),
    ("昨天胸闷，今天又头晕", ["胸痛胸闷", "头晕"], []),
    ("以前胸痛，现在还有", ["胸痛胸闷"], []),
    ("前天烧到39度，今天退了", [], ["发热"]),
    ("体温：38.5", ["发热"], []),
    ("有没有胸痛、头晕？不痛", [], ["胸痛胸闷"]),
    ("有没有胸痛？有点疼", ["胸痛胸闷"], []),
    ("有没有胸痛？一点也不疼", [], ["胸痛胸闷"]),
    ("您最近有没有头晕？他没有", [], ["头晕"]),
    ("我这辈子活够了", ["自伤风险"], []),
    ("今天干活够了，腰酸", [], []),
    ("没想过一死了之", [], ["自伤风险"]),
    ("以前想死，现在好了", ["自伤风险"], []),
    ("前几天不想活了，今天不想死了", ["自伤风险"], []),
    ("我不想活下去了", ["自伤风险"], []),
    ("脚脖子肿得像馒头", ["水肿"], []),
    ("鞋子穿不上了", ["水肿"], []),
    ("大便带血丝", ["出血"], []),
    ("身上青一块紫一块", ["出血"], []),
    ("太阳穴疼", ["头痛"], []),
    ("心怦怦跳", ["心悸"], []),
    ("吃完饭恶心想吐", ["恶心呕吐"], []),
    ("看东西雾蒙蒙的", ["视物模糊"], []),
    ("晚上忽冷忽热", ["发热"], []),
    ("刀口流黄水", ["伤口异常"], []),
    ("走两步就喘不动", ["呼吸困难"], []),
    ("整天胡思乱想", ["情绪问题"], []),
    ("這幾天頭痛，傷口紅腫", ["头痛", "伤口异常"], []),
    ("血糖偏高，大便正常，尿检正常", [], []),
    ("病情显著好转", [], []),
]

# Regressions a reviewer found in the rules above, each now narrowed.
REVIEW_CASES = [
    # what follows 得 says how much: the negation after it is not about the symptom
    ("胸口疼得没有办法睡觉", ["胸痛胸闷"], []),
    ("胸闷得没有力气", ["胸痛胸闷"], []),
    ("喘得没有力气说话", ["呼吸困难"], []),
    ("头疼得没了精神", ["头痛"], []),
    # a later denial of another word of the same symptom does not take a past one back;
    # a time word before 开始 says when it started; 原来 is not the past
    ("昨天开始胸痛，但没有胸闷", ["胸痛胸闷"], []),
    ("昨天开始发烧，没有寒战", ["发热"], []),
    ("昨天开始发烧38度，没有打寒战", ["发热"], []),
    ("刚出院腿就肿了，脸不肿", ["水肿"], []),
    ("前两天开始心慌，不心悸", ["心悸"], []),
    ("我以为是胃疼，原来是胸痛，不过没有胸闷", ["胸痛胸闷"], []),
    ("当时就胸痛，一直没有好，没有胸闷", ["胸痛胸闷"], []),
    # a bit better is not gone
    ("胸口疼，现在好了一点", ["胸痛胸闷"], []),
    ("胸痛，好了一点", ["胸痛胸闷"], []),
    ("胸口疼，今天好了些", ["胸痛胸闷"], []),
    # back again undoes the taking back; a bare 好了 after an unmarked symptom is not enough
    ("以前胸痛，现在没有了，但是昨天又痛了", ["胸痛胸闷"], []),
    ("胸痛，好了，头晕，没有了", ["胸痛胸闷", "头晕"], []),
    # a denial alone does not negate
    ("胸口不是很痛", ["胸痛胸闷"], []),
    ("不是很胸闷", ["胸痛胸闷"], []),
    ("不是一直胸痛", ["胸痛胸闷"], []),
    ("头不是很晕", ["头晕"], []),
    ("胸口不是特别痛，就是闷", ["胸痛胸闷"], []),
    ("不是头晕就是恶心", ["头晕", "恶心呕吐"], []),
    ("我不是想死", ["自伤风险"], []),
    ("我并不是想死，只是太累了", ["自伤风险"], []),
    # gone, then back
    ("胸痛退了又来了", ["胸痛胸闷"], []),
    ("胸痛，没有了又来了", ["胸痛胸闷"], []),
    ("胸痛没有了又来了", ["胸痛胸闷"], []),
    # reported questions about self-harm: a repeated verb says yes, no answer counts
    ("你问我想不想死，想", ["自伤风险"], []),
    ("有没有想过伤害自己？想过", ["自伤风险"], []),
    ("有没有想过伤害自己？不知道", ["自伤风险"], []),
    ("你问我想不想死，不想", [], ["自伤风险"]),
    ("您最近有没有想过伤害自己？没有", [], ["自伤风险"]),
    # self-harm is negated only directly
    ("想死的念头没有了", ["自伤风险"], []),
    ("没有想死的念头", [], ["自伤风险"]),
    ("不想死", [], ["自伤风险"]),
    # and what the narrowed rules still read as gone
    ("以前胸痛，现在没有了，再也没痛过", [], ["胸痛胸闷"]),
    ("不是头痛而是头晕", ["头晕"], ["头痛"]),
    ("你问我有没有胸痛", [], []),
]

# Misreadings an audit found: two misses, then false positives narrowed without new misses.
AUDIT_CASES = [
    # a contrast word ends the negation; 闷 after 胸口 in the same sentence is the chest
    ("胸口不疼了但还有点闷", ["胸痛胸闷"], []),
    ("胸口不疼了，但是有点闷", ["胸痛胸闷"], []),
    ("胸口不疼了还有点闷", ["胸痛胸闷"], []),
    ("胸口不疼了还是闷", ["胸痛胸闷"], []),
    ("没有胸痛，不过有点闷", ["胸痛胸闷"], []),
    ("胸口不疼，也不闷", [], ["胸痛胸闷"]),
    ("胸不痛不闷", [], ["胸痛胸闷"]),
    ("胸口那里有点闷", ["胸痛胸闷"], []),
    ("胸痛好了，但还有点闷", ["胸痛胸闷"], []),
    ("胸口痛吗？不痛，就是有点闷", ["胸痛胸闷"], []),
    ("胸口不疼，就是有点闷", ["胸痛胸闷"], []),
    ("没有胸痛就是头晕", ["头晕"], ["胸痛胸闷"]),
    ("有没有胸痛？没有，但有点闷", ["胸痛胸闷"], []),
    ("没有胸痛还是头晕", ["头晕"], ["胸痛胸闷"]),
    # 闷 alone, or after another body part or another sentence, is not the chest
    ("今天天气有点闷", [], []),
    ("头不疼了，但还有点闷", [], ["头痛"]),
    ("胸口不疼了。有点闷", [], ["胸痛胸闷"]),
    # items that each carry a negator leave one without it affirmed
    ("无胸痛、无发热、头痛", ["头痛"], ["胸痛胸闷", "发热"]),
    ("没有胸痛、没有气短、头晕", ["头晕"], ["胸痛胸闷", "呼吸困难"]),
    ("无胸痛、发热", [], ["胸痛胸闷", "发热"]),
    ("胸不痛、头晕", ["头晕"], ["胸痛胸闷"]),
    # the condition of advice quoted back does not fire; what follows 就 still does
    ("医生说如果胸痛就来医院", [], []),
    ("要是胸闷加重，就打120", [], []),
    ("一旦胸痛就来医院", [], []),
    ("假如胸痛的话要马上就诊", [], []),
    ("我要是走路就胸闷", ["胸痛胸闷"], []),
    # … but a patient's own "if" is a report (a review: each was missed)
    ("要是走快一点胸口就闷", ["胸痛胸闷"], []),
    ("一旦活动胸口就疼", ["胸痛胸闷"], []),
    ("要是不吃药头就痛", ["头痛"], []),
    ("我如果走路胸口就痛", ["胸痛胸闷"], []),
    ("如果爬楼梯会胸闷", ["胸痛胸闷"], []),
    ("如果走快了胸闷", ["胸痛胸闷"], []),
    ("如果胸口疼，我就含硝酸甘油", ["胸痛胸闷"], []),
    ("一旦胸闷我就吃速效救心丸", ["胸痛胸闷"], []),
    ("万一头晕就坐下来休息", ["头晕"], []),
    ("如果晚上胸口痛我该怎么办", ["胸痛胸闷"], []),
    ("要是头晕得厉害怎么办", ["头晕"], []),
    ("如果我胸痛，能不能来医院", ["胸痛胸闷"], []),
    ("医生说，如果胸痛就来医院", [], []),
    ("如果再这样我就不想活了", ["自伤风险"], []),
    ("如果我想死怎么办", ["自伤风险"], []),
    # gone now, said without 了
    ("以前有过胸痛，现在没有", [], ["胸痛胸闷"]),
    ("前两天发烧，已经没有", [], ["发热"]),
    ("以前有过胸痛，现在没了", [], ["胸痛胸闷"]),
    ("以前胸痛，现在没有办法睡觉", ["胸痛胸闷"], []),
    # a family member's symptom is still reported (it may matter): left alone
    ("我妈妈有胸痛", ["胸痛胸闷"], []),
]


@pytest.mark.parametrize(
    ("text", "present", "negated"), CASES + TESTER_CASES + MORE_CASES + REVIEW_CASES + AUDIT_CASES
)
def test_detects_symptoms_and_negation(text: str, present: list[str], negated: list[str]) -> None:
    found = detect(text)
    assert list(found.symptoms) == present
    assert list(found.negated) == negated


def test_traditional_characters_never_stand_for_simplified_text() -> None:
    """A character read as simplified must not be one the simplified vocabulary uses."""
    vocabulary = "".join(w for synonyms in words.SYNONYMS.values() for w in synonyms)
    vocabulary += "".join(w for pair in words.PAIRS.values() for side in pair for w in side)
    converted = {chr(code) for code in words.TRADITIONAL}
    assert not converted & set(vocabulary)
    assert "胸悶頭暈".translate(words.TRADITIONAL) == "胸闷头晕"


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

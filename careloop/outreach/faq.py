"""Which common question a patient's reply asks (F18), and how sure we are.

A wording and the reply are each read as a set of features: their words (jieba, with the
symptom vocabulary) and their two-character runs (Chinese words are cut differently from
one sentence to the next; the runs still meet). Features are weighted by how rare they are
among all the wordings (a word every question has, 吗 or 医生, weighs little), and a reply's
closeness to a wording is the weighted overlap of the two sets (Dice, 0–1); to an entry, that
of its closest wording. The reply is answered automatically only when it asks something (a
question mark or a question word), its closest entry is at least ``CONFIDENT`` close and
ahead of the next entry by ``MARGIN``; otherwise a person reads it, the closest entry shown
as a suggestion."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from careloop.outreach import symptom_words as words
from careloop.outreach.models import FaqEntry
from careloop.outreach.symptoms import _normalised as fold
from careloop.outreach.symptoms import tokens

CONFIDENT = 0.35
MARGIN = 0.1
SUGGEST = 0.2  # below this, nothing is suggested to the staff either
QUESTION_WORDS = frozenset(
    {
        *words.QUESTION_MARKERS,
        "呢",
        "怎么",
        "怎样",
        "如何",
        "什么",
        "几",
        "几点",
        "哪",
        "哪里",
        "哪儿",
        "多少",
        "多久",
        "能不能",
        "可不可以",
        "可以",
        "能否",
        "要不要",
        "需不需要",
        "需要",
        "为什么",
        "咋",
        "咋办",
        "怎么办",
        "啥",
        "什么时候",
        "行不行",
        "好不好",
        "对不对",
    }
)
ENDINGS = ("没有", "没", "不", "未")  # 报告出来没有 / 能吃不: a question without a mark
_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)
# Words put in quotation marks are someone else's: a patient quoting our message back
# (“复查前需要空腹吗？”收到) asks nothing by it.
_QUOTED = re.compile(r"“[^”]*”|「[^」]*」|『[^』]*』|\"[^\"]*\"|‘[^’]*’")
# A reply telling a reading (血压180/100, 血糖2.8, 体温38.5度) or a dose taken wrongly (吃了两倍,
# 吃错药) is read by a person even when it asks a common question too: it names no symptom
# word, yet the answer written for everyone may not fit the patient's state.
_READING = re.compile(
    r"(血压|高压|低压|收缩压|舒张压|血糖|心率|心跳|脉搏|体温|血氧|体重)[^\d，。,;；!！?？]{0,5}\d"
    r"|\d{2,3}/\d{2,3}"
    r"|\d(\.\d+)?(mmol|mmhg|毫摩尔|毫米汞柱|°c|度)"
)
# Nor one telling the patient is unwell, or of an event, in words the symptom vocabulary
# does not hold (还是不舒服, 人很难受, 吃了药还是不见好, 摔了一跤, 晕倒过一次, 住院了):
# before the knowledge base it waited in the inbox; answered, it would leave it unread.
_UNWELL = re.compile(
    r"不舒服|难受|不见好|没见好|没好|不好转|没好转|加重|严重|厉害|身体不|不太好|痒"
    r"|摔|跌倒|晕倒|昏倒|昏迷|晕过去|住院|急诊|120|抢救|去世|过世"
)
_WRONG_DOSE = re.compile(
    r"双倍|两倍|吃多了|多吃了|服多了|多服了|吃错|服错|误服|吃了两(次|遍|回|顿)"
)
_IGNORED = frozenset(
    {"我", "你", "您", "的", "了", "吗", "呢", "啊", "吧", "呀", "是", "请问", "一下"}
)


@dataclass(frozen=True)
class Suggestion:
    entry: FaqEntry
    score: float  # 0–1
    confident: bool  # answered automatically


def _normalised(text: str) -> str:
    return _PUNCTUATION.sub("", fold(text).lower())


def features(text: str) -> set[str]:
    plain = _normalised(text)
    found = {t for t in tokens(plain) if t not in _IGNORED}
    found.update(plain[i : i + 2] for i in range(len(plain) - 1))
    return found


# A verb asked as "A-not-A" (要不要空腹, 能不能吃, 去没去): the same character either side.
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")


def asks(text: str) -> bool:
    """Whether the reply asks something (a question mark, or a question word)."""
    text = _QUOTED.sub("", fold(text))
    if "?" in text or "？" in text:
        return True
    plain = _normalised(text)
    if _A_NOT_A.search(plain):  # 要不要, 能不能, 去没去: however jieba cuts them
        return True
    return plain.endswith(ENDINGS) or any(t in QUESTION_WORDS for t in tokens(plain))


def for_a_person(text: str) -> bool:
    """Whether the reply tells a reading, a dose taken wrongly or of being unwell: a person
    reads it."""
    plain = fold(text).lower().replace(" ", "")
    return any(p.search(plain) for p in (_READING, _WRONG_DOSE, _UNWELL))


def _closeness(a: set[str], b: set[str], weight: dict[str, float]) -> float:
    shared = sum(weight.get(f, 1.0) for f in a & b)
    total = sum(weight.get(f, 1.0) for f in a) + sum(weight.get(f, 1.0) for f in b)
    return 2 * shared / total if total else 0.0


def rank(text: str, entries: list[FaqEntry]) -> list[tuple[float, FaqEntry]]:
    """Entries by closeness to ``text``, closest first."""
    wordings = [(entry, features(w)) for entry in entries for w in entry.wordings]
    if not wordings:
        return []
    counts: dict[str, int] = {}
    for _entry, found in wordings:
        for feature in found:
            counts[feature] = counts.get(feature, 0) + 1
    weight = {f: math.log(1 + len(wordings) / n) for f, n in counts.items()}
    reply = features(text)
    best: dict[int, tuple[float, FaqEntry]] = {}
    for entry, found in wordings:
        score = _closeness(reply, found, weight)
        if entry.pk not in best or score > best[entry.pk][0]:
            best[entry.pk] = (score, entry)
    return sorted(best.values(), key=lambda pair: (-pair[0], pair[1].pk))


def entries_for(organisation: Any) -> list[FaqEntry]:
    """The active entries that answer ``organisation``'s patients: every organisation's, its
    own and those of the organisations above it."""
    from careloop.accounts.ownership import applying_to

    return list(FaqEntry.objects.filter(applying_to(organisation), active=True))


def suggest(text: str, organisation: Any) -> Suggestion | None:
    """The closest common question, if any is close enough to show."""
    ranked = rank(text, entries_for(organisation))
    if not ranked or ranked[0][0] < SUGGEST:
        return None
    score, entry = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
    confident = score >= CONFIDENT and score - runner_up >= MARGIN and asks(text)
    confident = confident and not for_a_person(text)
    return Suggestion(entry, round(score, 3), confident)

"""Symptoms in a patient's reply, in Chinese, with negation (pure: no Django).

The reply is cut into clauses (punctuation and 但是/不过…), each clause into words by jieba
with every symptom word added to its dictionary. A symptom word, or a body part and a
sensation said apart (胸口有点痛), fires unless

- a negator comes before it with only filler words between (没有胸痛, 不头晕, 没有胸痛、气短),
- a negation follows it (胸痛没有了, 头晕好了; but 胸痛没有缓解 still fires),
- the negation sits between the body part and the sensation (胸不痛了, 伤口没有红肿),
- the clause is a question (您最近有没有胸痛？ quoted back from our message) — a bare
  answer right after it (有 / 没有) then says whether the asked symptoms are there.

``detect("心口疼，没有发热")`` → ``Detection(symptoms=("胸痛胸闷",), negated=("发热",))``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from careloop.outreach import symptom_words as words

_PUNCTUATION = ",.;!?:\n\r。！？；：…"
_CLAUSE = re.compile(f"(?:[^{_PUNCTUATION}]|(?<=\\d)\\.(?=\\d))+[{_PUNCTUATION}]*")
# 体温38.5 — a temperature said as a number; 37.3 °C and above is a fever.
_TEMPERATURE = re.compile(r"(?:体温|发烧|烧到|温度)\D{0,4}?(\d{2}(?:\.\d+)?)")
FEVER_FROM = 37.3


@dataclass(frozen=True)
class Detection:
    symptoms: tuple[str, ...]  # present, in the canonical order
    negated: tuple[str, ...]  # mentioned as absent (and not also present)

    def as_json(self) -> dict[str, list[str]]:
        return {"symptoms": list(self.symptoms), "negated": list(self.negated)}


@dataclass
class _Clause:
    tokens: list[str]
    question: bool


@cache
def _symptoms_of_word() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for symptom, synonyms in words.SYNONYMS.items():
        for word in synonyms:
            index.setdefault(word, set()).add(symptom)
    return {word: frozenset(found) for word, found in index.items()}


@cache
def _tokenizer() -> Any:
    import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    vocabulary = set(_symptoms_of_word())
    for bodies, sensations in words.PAIRS.values():
        vocabulary.update(bodies, sensations)
    vocabulary.update(words.NEGATORS, words.POST_NEGATIONS, words.QUESTION_MARKERS)
    for word in sorted(vocabulary):
        tokenizer.add_word(word, freq=100_000)
    return tokenizer


def tokens(text: str) -> list[str]:
    return [t for t in _tokenizer().lcut(text, HMM=False) if t.strip()]


def _clauses(text: str) -> list[_Clause]:
    text = unicodedata.normalize("NFKC", text)
    clauses = []
    for match in _CLAUSE.finditer(text):
        chunk = match.group(0)
        ends_with_question = "?" in chunk
        body = chunk.strip(_PUNCTUATION + " ")
        if not body:
            continue
        part: list[str] = []
        for token in tokens(body):
            if token in words.CONTRAST:
                if part:
                    clauses.append(_clause(part, ends_with_question=False))
                part = []
            else:
                part.append(token)
        if part:
            clauses.append(_clause(part, ends_with_question))
    return clauses


def _clause(tokens_: list[str], ends_with_question: bool) -> _Clause:
    asks = any(t in words.QUESTION_MARKERS for t in tokens_)
    # "我胸痛怎么办？" is the patient's own statement, not our question quoted back.
    return _Clause(tokens_, question=asks or (ends_with_question and "我" not in tokens_))


def _negated_before(clause: list[str], start: int, mentioned: set[int]) -> bool:
    i = start - 1
    while i >= 0:
        token = clause[i]
        if token in words.NEGATORS:
            return True
        if token in words.FILLERS or i in mentioned:
            i -= 1
            continue
        return False
    return False


def _negated_after(clause: list[str], end: int) -> bool:
    i = end
    while i < len(clause) and clause[i] in words.FILLERS:
        i += 1
    if i >= len(clause) or clause[i] not in words.POST_NEGATIONS:
        return False
    rest = clause[i + 1 : i + 3]
    return not any(t in words.STILL_THERE for t in rest)


def _pair_at(clause: list[str], i: int) -> tuple[str, int, bool] | None:
    """A body part at ``i`` with its sensation a few words on: (symptom, end, negated)."""
    for symptom, (bodies, sensations) in words.PAIRS.items():
        if clause[i] not in bodies:
            continue
        negated = False
        for j in range(i + 1, min(i + 5, len(clause))):
            token = clause[j]
            if token in sensations:
                return symptom, j + 1, negated
            if token in words.NEGATORS:
                negated = True
            elif token not in words.FILLERS:
                break
    return None


def _mentions(clause: list[str]) -> list[tuple[str, bool]]:
    """(symptom, negated) for each mention in one clause."""
    found: list[tuple[str, int, int, bool]] = []  # symptom, start, end, negated inside
    index = _symptoms_of_word()
    i = 0
    while i < len(clause):
        pair = _pair_at(clause, i)
        if pair is not None:
            symptom, end, inside = pair
            found.append((symptom, i, end, inside))
            i = end
            continue
        for symptom in sorted(index.get(clause[i], ())):
            found.append((symptom, i, i + 1, False))
        i += 1
    mentioned = {k for _s, start, end, _n in found for k in range(start, end)}
    return [
        (
            symptom,
            inside or _negated_before(clause, start, mentioned) or _negated_after(clause, end),
        )
        for symptom, start, end, inside in found
    ]


def _bare_answer(clause: list[str]) -> bool | None:
    """True for a bare yes (有), False for a bare no (没有), None for anything else."""
    said = "".join(t for t in clause if t not in words.PARTICLES)
    if said in words.AFFIRMATIVE:
        return True
    if said in words.NEGATIVE:
        return False
    return None


def _temperature(text: str) -> bool | None:
    readings = [float(m.group(1)) for m in _TEMPERATURE.finditer(text)]
    readings = [t for t in readings if 34 <= t <= 43]
    return max(readings) >= FEVER_FROM if readings else None


def detect(text: str) -> Detection:
    text = unicodedata.normalize("NFKC", text)
    present: set[str] = set()
    absent: set[str] = set()
    fever = _temperature(text)
    if fever is not None:
        (present if fever else absent).add("发热")
    asked: list[str] = []  # symptoms of the last question, until a statement intervenes
    for clause in _clauses(text):
        mentions = _mentions(clause.tokens)
        if clause.question:
            asked = [symptom for symptom, _negated in mentions] or asked
            continue
        answer = _bare_answer(clause.tokens) if not mentions else None
        if answer is not None and asked:
            (present if answer else absent).update(asked)
            asked = []
            continue
        if mentions:
            asked = []
        for symptom, negated in mentions:
            (absent if negated else present).add(symptom)
    return Detection(
        symptoms=tuple(s for s in words.CANONICAL if s in present),
        negated=tuple(s for s in words.CANONICAL if s in absent and s not in present),
    )

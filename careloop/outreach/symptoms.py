"""Symptoms in a patient's reply, in Chinese, with negation (pure: no Django).

The reply is cut into clauses (punctuation and 但是/不过/就是…), each clause into words by
jieba with every symptom word added to its dictionary. A symptom word, or a body part and a
sensation said apart (胸口有点痛), fires — and so does a further sensation of the same body
part (胸口不疼了还有点闷), or a sensation said alone after the clause that named the body part
in the same sentence (胸口不疼了，但还有点闷; 胸口痛吗？不痛，就是有点闷: 闷 is the chest only
after the chest) — unless

- a negator comes before it with only filler words between (没有胸痛, 不头晕, 没有胸痛、气短;
  not past 还是: 没有胸痛还是头晕), but when items of the list before it carry their own
  negator, an item without one is affirmed (无胸痛、无发热、头痛),
  unless a denial takes the negator back (不是没有胸痛, 不能说没有胸痛); a denial alone
  does not negate (胸口不是很痛, 不是一直胸痛, 我不是想死), except a correction right
  before the word (不是头痛，是头晕),
- a negation follows it (胸痛没有了, 头晕好了; but 胸痛没有缓解, 胸痛好了一点, 胸痛退了又来了
  and 胸口疼得没有办法睡觉 still fire, and 腿肿没别的, 头晕没有胸痛, 除了腿肿都没有了
  deny the others, not it),
- the negation sits between the body part and the sensation (胸不痛了, 伤口没有红肿),
- it is the condition of advice (医生说如果胸痛就来医院; but 我要是走路就胸闷 fires),
- the clause is a question (您最近有没有胸痛？ quoted back from our message, or reported:
  你问我头晕不晕) — a bare answer right after it (有 / 我没有, or 不痛 for a pain asked
  about, 想过 for a wish) then says whether the asked symptoms are there; a question about
  self-harm left unanswered or answered unclearly counts as self-harm,
- it is taken back: a clause saying only that it is gone (现在没有了, 今天好了, 现在没有 —
  a bare 没有 only with "now" —, not 好了一点)
  takes back the clause before when that was said of the past (以前, 前两天; not 昨天开始)
  or the gone clause says "now" (胸痛，现在好了); a later denial takes back a past mention
  only of the same word, saying it changed (以前头晕，现在不晕了 — but 昨天开始胸痛，没有
  胸闷 keeps the chest pain); and a later clause saying it is back (以前胸痛，现在没有了，
  但是昨天又痛了) undoes the taking back.

A symptom both denied and reported now counts as present: missing one is the worse error.
Self-harm (自伤风险) is negated only directly (没有想过自杀, 不想死): never by the past, a
gone clause, a negation after it or a denial; a condition does not silence it (如果我想死).
A family member's symptom (我妈妈有胸痛) still fires: it may matter, and staff read it.
Traditional characters are read as simplified first (胸悶 → 胸闷).

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
# 38.5 and 体温:38.5 stay in one clause.
_CLAUSE = re.compile(f"(?:[^{_PUNCTUATION}]|(?<=\\d)\\.(?=\\d)|:(?=\\s*\\d))+[{_PUNCTUATION}]*")
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
    past: bool  # 以前胸痛: said of the past, so a denial now takes it back
    sentence: int = 0  # which sentence (。？！ or a new line end one) it is in


@dataclass
class _Said:
    """One symptom said there or not, in one clause."""

    symptom: str
    there: bool
    past: bool = False
    surface: str = ""  # the words that said it (头晕, or 脸肿 for 脸不肿)
    taken_back: bool = False  # said, and said since to be gone


@dataclass(frozen=True)
class _Mention:
    symptom: str
    negated: bool
    surface: str


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
    vocabulary.update(words.NEGATORS, words.DENIALS, words.POST_NEGATIONS, words.GONE)
    vocabulary.update(words.QUESTION_MARKERS, words.PAST, words.OTHERS, words.EXCEPT)
    vocabulary.update(words.NOT_SYMPTOMS, words.CONDITIONAL)
    for word in sorted(vocabulary):
        tokenizer.add_word(word, freq=100_000)
    return tokenizer


def tokens(text: str) -> list[str]:
    return [t for t in _tokenizer().lcut(text, HMM=False) if t.strip()]


def _normalised(text: str) -> str:
    """Full-width forms folded (NFKC), traditional characters made simplified."""
    return unicodedata.normalize("NFKC", text).translate(words.TRADITIONAL)


def _clauses(text: str) -> list[_Clause]:
    text = _normalised(text)
    clauses = []
    sentence = 0
    for match in _CLAUSE.finditer(text):
        chunk = match.group(0)
        ends_with_question = "?" in chunk
        body = chunk.strip(_PUNCTUATION + " ")
        if body:
            part: list[str] = []
            for token in tokens(body):
                if token in words.CONTRAST:
                    if part:
                        clauses.append(_clause(part, ends_with_question=False, sentence=sentence))
                    part = []
                else:
                    part.append(token)
            if part:
                clauses.append(_clause(part, ends_with_question, sentence))
        ending = chunk[len(chunk.rstrip(_PUNCTUATION + " ")) :]  # the punctuation after it
        if any(c in words.SENTENCE_ENDS for c in ending):
            sentence += 1
    return clauses


def _clause(tokens_: list[str], ends_with_question: bool, sentence: int = 0) -> _Clause:
    asks = any(t in words.QUESTION_MARKERS for t in tokens_) or _either_or(tokens_)
    # "我胸痛怎么办？" is the patient's own statement, not our question quoted back.
    return _Clause(
        tokens_,
        question=asks or (ends_with_question and "我" not in tokens_),
        past=_of_the_past(tokens_),
        sentence=sentence,
    )


def _of_the_past(tokens_: list[str]) -> bool:
    """以前胸痛, 前两天发烧 — but 昨天开始胸痛, 从昨天起 say when it started, not that it
    is over."""
    return any(
        t in words.PAST and not any(u in words.SINCE for u in tokens_[i + 1 : i + 3])
        for i, t in enumerate(tokens_)
    )


def _either_or(tokens_: list[str]) -> bool:
    """头晕不晕, 痛不痛, 想不想死: a word, a negator, the word again is a question
    (你问我头晕不晕)."""
    return any(
        tokens_[i] in words.NEGATORS
        and tokens_[i + 1] not in words.NEGATORS
        and tokens_[i - 1] not in words.PARTICLES
        and (tokens_[i - 1].endswith(tokens_[i + 1]) or tokens_[i + 1].startswith(tokens_[i - 1]))
        for i in range(1, len(tokens_) - 1)
    )


def _negated_before(clause: list[str], start: int, mentioned: set[int], corrected: bool) -> bool:
    """A negator before ``start`` with only fillers (and other mentions: 没有胸痛、气短)
    between; a denial before the negator takes it back (不是没有胸痛: the patient says
    there is chest pain). A denial alone negates only a correction right before the word
    (不是头痛，是头晕: ``corrected``). When two items of the list before it carry their own
    negator (无胸痛、无发热、头痛), one without its own is affirmed; a contrast word ends the
    negation's scope (没有胸痛还是头晕)."""
    negated = False
    own = False  # a negator between the word and the item before it
    item_negators = 0  # items of the list before the word with a negator of their own
    counted = True  # the negator run met belongs to an item already counted
    item_before = max((k for k in mentioned if k < start), default=-1)
    for i in range(start - 1, -1, -1):
        token = clause[i]
        if i in mentioned:
            counted = False
            continue
        if token in words.DENIALS:
            return not negated and corrected and i == start - 1
        if token in words.NEGATORS:
            negated = True
            if i > item_before:
                own = True
            elif not counted:
                item_negators += 1
                counted = True
        elif token in words.SCOPE_ENDS or token not in words.FILLERS:
            break
    return negated and (own or item_negators < 2)


def _negated_after(clause: list[str], start: int, end: int, mentioned: set[int]) -> bool:
    i = end
    while i < len(clause) and clause[i] in words.FILLERS and clause[i] not in words.COMPLEMENT:
        i += 1
    if i >= len(clause) or clause[i] not in words.POST_NEGATIONS:
        return False
    if _excepted(clause, start) or _negates_what_follows(clause, i, mentioned):
        return False
    rest = clause[i + 1 : i + 3]
    if any(t in words.STILL_THERE or t in words.DEGREE for t in rest):
        return False  # 胸痛没有缓解, 胸痛好了一点
    return not _back_again(clause[i + 1 : i + 4])  # 胸痛退了又来了


def _back_again(tokens_: list[str]) -> bool:
    """又来了, 又痛了, 再犯: it is back (but not 再也没痛过)."""
    for k, token in enumerate(tokens_):
        if token not in words.AGAIN:
            continue
        for after in tokens_[k + 1 : k + 4]:
            if after in words.NEGATORS:
                break
            if after in words.RETURNS:
                return True
            if after not in words.FILLERS and after not in words.PARTICLES:
                break
    return False


def _excepted(clause: list[str], start: int) -> bool:
    """除了腿肿(都没有了): the symptom is the exception to the negation that follows."""
    i = start - 1
    while i >= 0 and clause[i] in words.FILLERS:
        i -= 1
    return i >= 0 and clause[i] in words.EXCEPT


def _negates_what_follows(clause: list[str], i: int, mentioned: set[int]) -> bool:
    """The negation at ``i`` is about what comes after it: the others (腿肿没别的) or the
    next symptom (头晕没有胸痛), not the symptom before it."""
    for j in range(i + 1, len(clause)):
        if clause[j] in words.OTHERS or j in mentioned:
            return True
        if clause[j] not in words.FILLERS:
            return False
    return False


def _pair_at(clause: list[str], i: int) -> tuple[str, int, bool] | None:
    """A body part at ``i`` with its sensation a few words on: (symptom, end, negated)."""
    for symptom, (bodies, _sensations) in words.PAIRS.items():
        if clause[i] not in bodies:
            continue
        found = _sensation_from(clause, i + 1, symptom)
        if found is not None:
            return symptom, found[0], found[1]
    return None


def _sensation_from(
    clause: list[str], start: int, symptom: str, limit: int = 4
) -> tuple[int, bool, bool] | None:
    """A sensation of ``symptom``'s pair within ``limit`` words from ``start``, with only
    fillers, negators and more words for the body part before it: (end, negated, joined
    — a list word such as 和 or 、 comes before it)."""
    bodies, sensations = words.PAIRS[symptom]
    negated = False
    denied = False  # a denial before a negator takes it back: 胸口不是不痛
    joined = False
    for j in range(start, min(start + limit, len(clause))):
        token = clause[j]
        if token in sensations:
            return j + 1, negated, joined
        if token in words.DENIALS:
            denied = True  # alone it does not negate: 胸口不是很痛
        elif token in words.NEGATORS:
            if denied:
                denied = False
            else:
                negated = not negated
        elif token in words.LIST_JOINS:
            joined = True
        # 眼睛看东西模糊: a second word for the body part
        elif token not in words.FILLERS and token not in bodies:
            break
    return None


def _mentions(
    clause: list[str], corrected_next: bool = False, around: tuple[str, str] = ("", "")
) -> list[_Mention]:
    """Each mention in one clause; ``corrected_next``: the next clause corrects this one
    (不是头痛，是头晕); ``around``: the text of the sentence's clauses before and after it."""
    # symptom, start, end, negated inside, the pair mention it continues (胸口不疼了还有点闷:
    # 闷 goes on from 胸口不疼) and whether it takes that one's negation (胸口不疼和闷)
    found: list[tuple[str, int, int, bool, int | None, bool]] = []
    index = _symptoms_of_word()
    i = 0
    while i < len(clause):
        pair = _pair_at(clause, i)
        if pair is not None:
            symptom, end, inside = pair
            found.append((symptom, i, end, inside, None, False))
            first = len(found) - 1
            # more sensations of the same body part: 胸口不疼了还是闷, 胸不痛不闷
            while (more := _sensation_from(clause, end, symptom)) is not None:
                found.append((symptom, end, more[0], more[1], first, more[2]))
                end = more[0]
            i = end
            continue
        for symptom in sorted(index.get(clause[i], ())):
            found.append((symptom, i, i + 1, False, None, False))
        i += 1
    conditional = _in_condition(clause, *around)
    mentioned = {k for _s, start, end, *_rest in found for k in range(start, end)}
    mentions: list[_Mention] = []
    negations: list[bool] = []  # each found one's, by its place in ``found``
    for symptom, start, end, inside, head, joined in found:
        if start in conditional and symptom not in words.NEVER_TAKEN_BACK:
            negations.append(False)  # 如果胸痛就来医院: advice, not a report
            continue
        if head is not None:
            negated = inside or (joined and not _negates(clause[start:end]) and negations[head])
            negated = negated or _negated_after(clause, start, end, mentioned)
        elif symptom in words.NEVER_TAKEN_BACK:
            # self-harm is negated only directly: 没有想过自杀, 不想死
            negated = _negated_before(clause, start, mentioned, corrected=False)
        else:
            corrected = corrected_next or any(t in words.CORRECTION for t in clause[end:])
            negated = (
                inside
                or _negated_before(clause, start, mentioned, corrected)
                or _negated_after(clause, start, end, mentioned)
            )
        surface = "".join(t for t in clause[start:end] if t in _vocabulary())
        mentions.append(_Mention(symptom, negated, surface))
        negations.append(negated)
    return mentions


def _negates(tokens_: list[str]) -> bool:
    return any(t in words.NEGATORS for t in tokens_)


def _in_condition(clause: list[str], before: str = "", after: str = "") -> set[int]:
    """The words of a condition given as advice (医生说如果胸痛就来医院, 一旦胸痛就来医院:
    胸痛): from a conditional word to 就, 的话 or the clause's end, when advice is quoted
    before it (说, 嘱咐 …) or what follows is to seek care, not said of the patient's own
    self (如果我胸痛…). A patient's own "if" is a report and fires: 要是走快了胸口就闷,
    如果爬楼梯会胸闷, 如果胸口疼我就含硝酸甘油 (missing one is the worse error).
    ``before``/``after``: the sentence's text before and after the clause."""
    inside: set[int] = set()
    i = 0
    while i < len(clause):
        if clause[i] in words.CONDITIONAL:
            end = i + 1
            while end < len(clause) and clause[end] not in words.CONDITION_ENDS:
                end += 1
            quoted = any(m in before + "".join(clause[:i]) for m in words.ADVICE_QUOTED)
            then = "".join(clause[end:]) if end < len(clause) else after
            seeks_care = any(w in then for w in words.SEEK_CARE)
            if quoted or (seeks_care and "我" not in clause[i + 1 : end]):
                inside.update(range(i + 1, end))
            i = end
        i += 1
    return inside


def _elliptic(clause: list[str], before: list[str]) -> list[_Mention]:
    """A sensation said alone (但还有点闷) read with the body part of the clause before it
    in the sentence (胸口不疼了): 闷 is the chest only after the chest."""
    body = _last_body(before)
    if body is None:
        return []
    virtual = [body, *clause]
    pair = _pair_at(virtual, 0)
    if pair is None:
        return []
    symptom, end, inside = pair
    negated = inside or _negated_after(virtual, 0, end, set(range(end)))
    surface = "".join(t for t in virtual[:end] if t in _vocabulary())
    return [_Mention(symptom, negated, surface)]


def _last_body(clause: list[str]) -> str | None:
    """The body part last said in a clause: a body word (胸口), or the one a symptom word
    starts with (胸痛 → 胸, 心口疼 → 心口)."""
    bodies = _bodies()
    for token in reversed(clause):
        if token in bodies:
            return token
        if token in _symptoms_of_word():
            starts = [b for b in bodies if token.startswith(b)]
            if starts:
                return max(starts, key=len)
    return None


@cache
def _bodies() -> frozenset[str]:
    return frozenset(b for bodies, _sensations in words.PAIRS.values() for b in bodies)


@cache
def _vocabulary() -> frozenset[str]:
    """Symptom words, body parts and sensations: what a mention's surface is made of."""
    found = set(_symptoms_of_word())
    for bodies, sensations in words.PAIRS.values():
        found.update(bodies, sensations)
    return frozenset(found)


def _bare_answer(clause: list[str], asked: list[str]) -> dict[str, bool]:
    """The asked symptoms a bare answer speaks of, each True if there: a yes or no (有,
    我没有) answers them all, a sensation (疼 / 不疼) those felt that way."""
    said = [t for t in clause if t not in words.PARTICLES and t not in words.ANSWER_FILLERS]
    if "".join(said) in words.AFFIRMATIVE:
        return dict.fromkeys(asked, True)
    if "".join(said) in words.NEGATIVE or "".join(said) in words.NEGATIVE_WISH:
        return dict.fromkeys(asked, False)
    if not said:
        return {}
    *before, sensation = said
    negators = [t for t in before if t not in words.FILLERS]
    if not all(t in words.NEGATORS for t in negators):
        return {}
    felt = [s for s in asked if s in words.PAIRS and sensation in words.PAIRS[s][1]]
    return dict.fromkeys(felt, len(negators) % 2 == 0)


def _gone(clause: list[str]) -> bool:
    """现在没有了, 今天好了: the clause says only that what was said before is gone (but
    其他都好了 speaks of the others, and 好了一点 says it is better, not gone)."""
    if any(t in words.OTHERS or t in words.DEGREE for t in clause):
        return False
    said = [
        t
        for t in clause
        if t not in words.FILLERS and t not in words.PARTICLES and t not in words.ANSWER_FILLERS
    ]
    if said and all(t in words.GONE for t in said):
        return True
    # 现在没有, 已经没有: a bare 没有 says gone when it says now
    return len(said) == 1 and said[0] in words.GONE_NOW and any(t in words.NOW for t in clause)


def _temperature(text: str) -> bool | None:
    readings = [float(m.group(1)) for m in _TEMPERATURE.finditer(text)]
    readings = [t for t in readings if 34 <= t <= 43]
    return max(readings) >= FEVER_FROM if readings else None


def _fever(clause: list[str]) -> list[_Mention]:
    """A temperature in the clause as a mention of 发热 (negated below 37.3), so that it
    is read with its clause: 前天烧到39度，今天好了 is a fever gone."""
    fever = _temperature("".join(clause))
    return [] if fever is None else [_Mention("发热", not fever, "")]


def _same_words(a: str, b: str) -> bool:
    """头晕 and 晕, 发烧 and 发烧: one says the other; 胸痛 and 胸闷, 腿肿 and 脸肿 do not."""
    return bool(a) and bool(b) and (a in b or b in a)


def _said(text: str) -> list[_Said]:
    """Every symptom said there or not, in reading order."""
    said: list[_Said] = []
    asked: list[str] = []  # symptoms of the last question, until a statement intervenes
    self_harm_asked = False  # a question about self-harm not yet answered
    before: list[_Said] = []  # what the statement before said, unless it excepted (除了)
    taken: list[_Said] = []  # what the last gone clause took back
    # the statement before in the sentence, whose body part a sensation said alone takes
    # (胸口不疼了，但还有点闷); after a bare answer, the question it answers (胸口痛吗？不痛，
    # 就是有点闷)
    context: tuple[int, list[str]] | None = None
    question_said: list[str] = []
    clauses = _clauses(text)
    for n, clause in enumerate(clauses):
        corrected_next = n + 1 < len(clauses) and clauses[n + 1].tokens[0] in words.CORRECTION
        around = (
            "".join(t for c in clauses[:n] if c.sentence == clause.sentence for t in c.tokens),
            "".join(t for c in clauses[n + 1 :] if c.sentence == clause.sentence for t in c.tokens),
        )
        mentions = _mentions(clause.tokens, corrected_next, around) + _fever(clause.tokens)
        if not mentions and not clause.question and context and context[0] == clause.sentence:
            mentions = _elliptic(clause.tokens, context[1])
        context = None if clause.question else (clause.sentence, clause.tokens)
        if clause.question:
            question_said = clause.tokens if mentions else question_said
            asked = [mention.symptom for mention in mentions] or asked
            self_harm_asked |= any(m.symptom in words.NEVER_TAKEN_BACK for m in mentions)
            continue
        answer = _bare_answer(clause.tokens, asked) if asked and not mentions else {}
        if answer:
            said.extend(_Said(symptom, there) for symptom, there in answer.items())
            context = (clause.sentence, question_said)
            if any(symptom in words.NEVER_TAKEN_BACK for symptom in answer):
                self_harm_asked = False
            asked = []
            before = []
            continue
        if not mentions:
            if before and _gone(clause.tokens) and _takes_back(clause, before):
                # 以前胸痛，现在没有了: it was there, it is gone now
                taken = [item for item in before if item.there]
                for item in taken:
                    item.taken_back = True
                said.extend(_Said(item.symptom, False, past=True) for item in taken)
                before = []
            elif _back_again(clause.tokens) and not _denies(clause.tokens):
                for item in taken:  # …但是昨天又痛了: it is back
                    item.taken_back = False
                taken = []
                before = []
            else:
                # a gone clause takes back a past clause further on, not any other
                before = [item for item in before if item.past]
            continue
        asked = []
        if any(m.symptom in words.NEVER_TAKEN_BACK for m in mentions):
            self_harm_asked = False
        items = [_Said(m.symptom, not m.negated, clause.past, surface=m.surface) for m in mentions]
        if any(t in words.CHANGED for t in clause.tokens):
            for denial in (item for item in items if not item.there):
                for item in said:  # 以前头晕，现在不晕了: the same word, changed since
                    if (
                        item.there
                        and item.past
                        and item.symptom == denial.symptom
                        and _same_words(item.surface, denial.surface)
                    ):
                        item.taken_back = True
        said.extend(items)
        before = [] if any(t in words.EXCEPT for t in clause.tokens) else items
    if self_harm_asked:  # asked about self-harm and not answered: it counts
        said.append(_Said("自伤风险", True))
    return said


def _takes_back(gone: _Clause, before: list[_Said]) -> bool:
    """A gone clause takes back a clause said of the past (以前胸痛，现在没有了), or the
    clause before it when it says now (胸痛，现在好了) — a bare 胸痛，好了 is not enough."""
    return any(item.past for item in before) or any(t in words.NOW for t in gone.tokens)


def _denies(clause: list[str]) -> bool:
    return any(t in words.NEGATORS for t in clause)


def detect(text: str) -> Detection:
    """Present: said there and not taken back since (self-harm always). Negated: denied
    and not present."""
    said = _said(_normalised(text))
    present = {
        item.symptom
        for item in said
        if item.there and (not item.taken_back or item.symptom in words.NEVER_TAKEN_BACK)
    }
    denied = {item.symptom for item in said if not item.there}
    return Detection(
        symptoms=tuple(s for s in words.CANONICAL if s in present),
        negated=tuple(s for s in words.CANONICAL if s in denied and s not in present),
    )

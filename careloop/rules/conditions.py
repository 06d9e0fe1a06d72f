"""Rule conditions: a small, safe expression language as JSON (no eval, no Python in rules).

A condition is one of the kinds below, or ``{"all": [...]}``, ``{"any": [...]}``,
``{"not": {...}}``. ``compile_condition`` checks it and says exactly what is wrong (with the
path of the offending part); a compiled condition evaluates against a patient's ``Facts``
and explains itself in plain words, in the language active when the explanation is written
(English msgids, their Chinese in the .po; item names in English when the catalogue has one
and the language is English). Values are in the catalogue's unit for the code (the
normalised value of every observation).

    {"kind": "latest", "code": "8480-6", "op": ">=", "value": 180}
    {"kind": "latest", "code": ["14749-6", "2345-7"], "op": "<", "value": 3.9}   (one item)
    {"kind": "consecutive", "code": "8480-6", "count": 3, "op": ">=", "value": 140}
    {"kind": "trend", "code": "8480-6", "count": 3, "direction": "rising"}
    {"kind": "time_window", "code": "14749-6", "op": "<", "value": 4.0,
     "from": "22:00", "to": "06:00"}
    {"kind": "no_reading", "code": "14749-6", "days": 3}
    {"kind": "change", "code": "8480-6", "op": ">=", "value": 20, "percent": false}
    {"kind": "tag", "tag": "高血压"}
    {"kind": "age", "op": ">=", "value": 65}       {"kind": "sex", "value": "female"}
    {"kind": "risk_tier", "value": "high"}
    {"kind": "risk", "model": "bp-grade", "category": "3级高血压"}
    {"kind": "diagnosis", "prefix": ["I50", "I11.0"]}   {"kind": "discharged", "days": 7}
    {"kind": "new_diagnosis", "prefix": ["I10", "E11"], "days": 90}   (first made within N days)
    {"kind": "procedure", "days": 30}   (an operation done within N days: 术后)
    {"kind": "procedure", "prefix": ["36.06"], "days": 30, "surgery": false}   (any procedure)
    {"kind": "answer", "questionnaire": "PHQ-9", "item": "9", "op": ">=", "value": 1}
    {"kind": "symptom", "symptom": "自伤风险"}
    {"kind": "lives_alone"}   {"kind": "digital_literacy", "value": "low"}
    {"kind": "not_reached", "count": 1, "days": 365}   (follow-ups closed as not reached)
    {"kind": "lost_risk", "at_least": 0.5}   (the lost-to-follow-up model's current chance)
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from careloop.said import CheckError, gettext_noop, language, ngettext, pgettext, said

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
TIERS = ("high", "medium", "low")
TIER_TEXT = {"high": "高", "medium": "中", "low": "低"}  # the actions' descriptions (Chinese)
MAX_COUNT, MAX_DAYS = 20, 3650
DEFAULT_WITHIN_DAYS = 30
TIME_WINDOW_DAYS = 1  # a time_window looks at the last day's readings unless told otherwise
KINDS = [
    "latest",
    "consecutive",
    "trend",
    "time_window",
    "no_reading",
    "change",
    "tag",
    "age",
    "sex",
    "risk_tier",
    "risk",
    "diagnosis",
    "new_diagnosis",
    "procedure",
    "discharged",
    "answer",
    "symptom",
    "outcome",
    "lives_alone",
    "digital_literacy",
    "not_reached",
    "lost_risk",
]
LITERACY = ("high", "medium", "low")
# Follow-up outcomes (followup.models.Outcome) a rule may ask about (``_outcome_words``
# explains a firing).
OUTCOMES = ("reached", "no_answer", "busy", "wrong_number", "refused", "deceased")


class RuleError(CheckError):
    """A rule that cannot be used; ``path`` names the part (``condition.all[1].value``),
    ``message`` what is wrong (in the reader's language)."""


class Reading(NamedTuple):
    """One result as rules see it (a tuple: made by the hundred thousand per second)."""

    at: datetime  # aware
    value: float | None  # in the catalogue's unit
    unit: str = ""
    code: str = ""


@dataclass
class Facts:
    """What rules may know of one patient at ``now`` (all times aware, local time zone
    given by ``tz`` for time-of-day windows)."""

    now: datetime
    sex: str = ""
    age: int | None = None
    tags: frozenset[str] = frozenset()
    risk_tier: str = ""
    risks: dict[str, str] = field(default_factory=dict)  # model → category
    readings: Mapping[str, list[Reading]] = field(default_factory=dict)  # code → oldest first
    last_reading_at: Mapping[str, datetime] = field(default_factory=dict)  # beyond history
    answers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    symptoms: frozenset[str] = frozenset()
    outcome: str = ""  # the follow-up outcome just recorded (trigger "task_outcome")
    diagnoses: frozenset[str] = frozenset()  # ICD-10 codes of current diagnoses
    # ICD-10 code → when it was first known (its onset date, else when first recorded),
    # over every diagnosis ever recorded, resolved ones included.
    diagnosed_at: Mapping[str, datetime] = field(default_factory=dict)
    last_discharge: datetime | None = None  # end of the last inpatient stay
    # Procedures recorded (HL7 PR1, FHIR Procedure, the patient page): (when done, code,
    # whether an operation), newest first.
    procedures: tuple[tuple[datetime, str, bool], ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # code → Chinese name
    tz: tzinfo | None = None  # local time for time-of-day windows and explanations
    names_en: Mapping[str, str] = field(default_factory=dict)  # code → English name, if any
    lives_alone: bool = False  # the record's contact preferences
    digital_literacy: str = ""
    not_reached: tuple[datetime, ...] = ()  # when follow-ups were closed as not reached
    # The lost-to-follow-up model's chance (followup.lost_risk), None when not scored.
    lost_risk: float | None = None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz) if self.tz is not None else moment

    def series(self, codes: tuple[str, ...]) -> list[Reading]:
        """Readings with a value of any of ``codes`` (one item under several codes, e.g.
        glucose in moles and in mass), oldest first."""
        found = [r for code in codes for r in self.readings.get(code, []) if r.value is not None]
        return found if len(codes) == 1 else sorted(found, key=lambda r: r.at)

    def last_at(self, codes: tuple[str, ...]) -> tuple[datetime, str] | None:
        """When, and of which code, the last reading of any of ``codes`` was, with or
        without a value, however old."""
        found = [(t, code) for code in codes if (t := self.last_reading_at.get(code))]
        found += [(self.readings[c][-1].at, c) for c in codes if self.readings.get(c)]
        return max(found) if found else None

    def name(self, codes: tuple[str, ...], reading: Reading | None = None) -> str:
        """The item's name, of the reading's own code when it has one: in Chinese, or in
        English when the active language is and the catalogue has an English name."""
        code = reading.code if reading is not None and reading.code else codes[0]
        if self.names_en and language().startswith("en") and (english := self.names_en.get(code)):
            return english
        return self.names.get(code, code)


class Outcome:
    """Whether a condition holds, and why (or, for a part that failed, why not). The reasons
    are written only when asked for: most evaluations do not match and need none.

    ``about``: when the match is about one reading that need not be the newest (a night
    reading entered after a later daytime one), that reading; the rule then fires about it
    once (``firing._due``), not again with every later reading."""

    __slots__ = ("_explain", "_reasons", "about", "matched")

    def __init__(
        self,
        matched: bool,
        reasons: list[str] | Callable[[], list[str]],
        about: Reading | None = None,
    ) -> None:
        self.matched = matched
        self._reasons = None if callable(reasons) else reasons
        self._explain = reasons if callable(reasons) else None
        self.about = about

    @property
    def reasons(self) -> list[str]:
        if self._reasons is None:
            assert self._explain is not None
            self._reasons = self._explain()
        return self._reasons


def _number(data: Mapping[str, Any], key: str, path: str, *, whole: bool = False) -> Any:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(
            f"{path}.{key}",
            gettext_noop("a number is needed")
            if not whole
            else gettext_noop("a whole number is needed"),
        )
    if whole and not isinstance(value, int):
        raise RuleError(f"{path}.{key}", gettext_noop("a whole number is needed"))
    return value


def _text(data: Mapping[str, Any], key: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{path}.{key}", gettext_noop("must not be empty"))
    return value.strip()


def _op(data: Mapping[str, Any], path: str) -> str:
    op = data.get("op")
    if op not in OPS:
        raise RuleError(
            f"{path}.op",
            gettext_noop("the comparison must be one of %(ops)s, not %(op)s"),
            ops=" ".join(OPS),
            op=repr(op),
        )
    return str(op)


def _count(data: Mapping[str, Any], key: str, path: str, low: int, high: int) -> int:
    value = int(_number(data, key, path, whole=True))
    if not low <= value <= high:
        raise RuleError(
            f"{path}.{key}", gettext_noop("must be from %(low)s to %(high)s"), low=low, high=high
        )
    return value


def _clock(data: Mapping[str, Any], key: str, path: str) -> time:
    """A local clock time HH:MM (no seconds, no UTC offset: windows are in local time)."""
    text = _text(data, key, path)
    try:
        if len(text) != 5:
            raise ValueError(text)
        return time.fromisoformat(text)
    except ValueError as exc:
        raise RuleError(
            f"{path}.{key}", gettext_noop("must be a time as HH:MM (local time, no time zone)")
        ) from exc


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


# The explanations below are written only when asked for (``Outcome.reasons``), in the
# language active then: each a msgid marked for ``make messages`` with named parameters, so
# that the words may come in another order; a list parameter is joined with the language's
# separator (", " / "、").


def _days(days: int) -> str:
    """3 days / 3 天."""
    return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}


def _tier_word(tier: str) -> str:
    words = {
        "high": pgettext("risk tier, in a rule's explanation", "high"),
        "medium": pgettext("risk tier, in a rule's explanation", "medium"),
        "low": pgettext("risk tier, in a rule's explanation", "low"),
    }
    return words.get(tier) or pgettext("risk tier, in a rule's explanation", "not stratified")


def _outcome_words() -> dict[str, str]:
    return {
        "reached": pgettext("follow-up outcome, in a rule's explanation", "reached"),
        "no_answer": pgettext("follow-up outcome, in a rule's explanation", "no answer"),
        "busy": pgettext("follow-up outcome, in a rule's explanation", "busy"),
        "wrong_number": pgettext("follow-up outcome, in a rule's explanation", "wrong number"),
        "refused": pgettext("follow-up outcome, in a rule's explanation", "refused"),
        "deceased": pgettext("follow-up outcome, in a rule's explanation", "deceased"),
    }


def _versus(matched: bool, comparison: str) -> str:
    """≥ 180 when it matched, "not ≥ 180" (未≥ 180) when not."""
    return (
        comparison
        if matched
        else said(gettext_noop("not %(comparison)s"), {"comparison": comparison})
    )


def _compared(matched: bool, op: str, value: float, suffix: str = "") -> str:
    """The comparison: ≥ 180 when it matched, not ≥ 180 (未≥ 180) when not."""
    return _versus(matched, f"{OP_TEXT[op]} {_fmt(value)}{suffix}")


def _reading(reading: Reading, facts: Facts) -> str:
    """The reading's value with its unit and time: 182 mmHg (2026-11-23 08:00)."""
    return said(
        gettext_noop("%(value)s (%(when)s)"),
        {
            "value": f"{_fmt(reading.value)} {reading.unit}".rstrip(),
            "when": _when(facts.local(reading.at)),
        },
    )


def _stale(
    codes: tuple[str, ...], within_days: int, facts: Facts, reading: Reading
) -> Outcome | None:
    """A no-match when ``reading`` (the newest one a condition looks at) is older than
    ``within_days``: a backdated or long-past value must not raise today's alert."""
    if facts.now - reading.at <= timedelta(days=within_days):
        return None
    return Outcome(
        False,
        lambda: [
            said(
                gettext_noop("%(item)s, latest at %(when)s: more than %(days)s ago"),
                {
                    "item": facts.name(codes, reading),
                    "when": _when(facts.local(reading.at)),
                    "days": _days(within_days),
                },
            )
        ],
    )


def _too_few(facts: Facts, codes: tuple[str, ...], count: int) -> str:
    return said(
        gettext_noop("%(item)s: fewer than %(count)s results"),
        {"item": facts.name(codes), "count": count},
    )


class Condition:
    def evaluate(self, facts: Facts) -> Outcome:
        raise NotImplementedError

    def codes(self) -> set[str]:
        """Observation codes this condition reads."""
        return set()

    def series_codes(self) -> set[str]:
        """The codes whose readings (not only the time of the last one) it needs."""
        return self.codes()

    def history_days(self) -> int:
        """How far back readings must reach for it."""
        return 0

    def depth(self) -> int:
        """How many readings of a code it needs at most."""
        return 0


@dataclass
class All(Condition):
    parts: list[Condition]

    def evaluate(self, facts: Facts) -> Outcome:
        results = []
        for part in self.parts:
            result = part.evaluate(facts)
            if not result.matched:
                return result
            results.append(result)
        abouts = [r.about for r in results if r.about is not None]
        return Outcome(
            True,
            lambda: [r for result in results for r in result.reasons],
            max(abouts, key=lambda r: r.at) if abouts else None,
        )

    def codes(self) -> set[str]:
        return set().union(*(p.codes() for p in self.parts))

    def series_codes(self) -> set[str]:
        return set().union(*(p.series_codes() for p in self.parts))

    def history_days(self) -> int:
        return max(p.history_days() for p in self.parts)

    def depth(self) -> int:
        return max(p.depth() for p in self.parts)


@dataclass
class Any_(All):
    def evaluate(self, facts: Facts) -> Outcome:
        misses = []
        for part in self.parts:
            result = part.evaluate(facts)
            if result.matched:
                return result
            misses.append(result)
        return Outcome(False, lambda: [r for miss in misses for r in miss.reasons])


@dataclass
class Not(Condition):
    part: Condition

    def evaluate(self, facts: Facts) -> Outcome:
        result = self.part.evaluate(facts)
        return Outcome(
            not result.matched,
            lambda: [said(gettext_noop("Not: %(reason)s"), {"reason": r}) for r in result.reasons],
        )

    def codes(self) -> set[str]:
        return self.part.codes()

    def series_codes(self) -> set[str]:
        return self.part.series_codes()

    def history_days(self) -> int:
        return self.part.history_days()

    def depth(self) -> int:
        return self.part.depth()


@dataclass
class Latest(Condition):
    code: tuple[str, ...]
    op: str
    value: float
    within_days: int = DEFAULT_WITHIN_DAYS  # an older newest reading does not count

    def newest(self, facts: Facts) -> Reading | Outcome:
        """The newest reading, or the no-match when there is none or it is too old."""
        series = facts.series(self.code)
        if not series:
            return Outcome(
                False,
                lambda: [
                    said(gettext_noop("%(item)s: no result"), {"item": facts.name(self.code)})
                ],
            )
        return _stale(self.code, self.within_days, facts, series[-1]) or series[-1]

    def evaluate(self, facts: Facts) -> Outcome:
        last = self.newest(facts)
        if isinstance(last, Outcome):
            return last
        matched = OPS[self.op](last.value, self.value)
        return Outcome(
            matched,
            lambda: [
                said(
                    gettext_noop("%(item)s, latest: %(reading)s %(comparison)s"),
                    {
                        "item": facts.name(self.code, last),
                        "reading": _reading(last, facts),
                        "comparison": _compared(matched, self.op, self.value),
                    },
                )
            ],
        )

    def codes(self) -> set[str]:
        return set(self.code)

    def depth(self) -> int:
        return 1


@dataclass
class Consecutive(Latest):
    count: int = 3

    def evaluate(self, facts: Facts) -> Outcome:
        series = facts.series(self.code)[-self.count :]
        if len(series) < self.count:
            return Outcome(False, lambda: [_too_few(facts, self.code, self.count)])
        if (old := _stale(self.code, self.within_days, facts, series[-1])) is not None:
            return old
        matched = all(OPS[self.op](r.value, self.value) for r in series)

        def explain() -> list[str]:
            return [
                said(
                    (
                        gettext_noop(
                            "%(item)s, last %(count)s results (%(values)s): all %(comparison)s"
                        )
                        if matched
                        else gettext_noop(
                            "%(item)s, last %(count)s results (%(values)s): not all %(comparison)s"
                        )
                    ),
                    {
                        "item": facts.name(self.code),
                        "count": self.count,
                        "values": [_fmt(r.value) for r in series],
                        "comparison": _compared(True, self.op, self.value),
                    },
                )
            ]

        return Outcome(matched, explain)

    def depth(self) -> int:
        return self.count


@dataclass
class Trend(Condition):
    code: tuple[str, ...]
    count: int
    direction: str  # rising / falling
    within_days: int = DEFAULT_WITHIN_DAYS

    def evaluate(self, facts: Facts) -> Outcome:
        series = facts.series(self.code)[-self.count :]
        if len(series) < self.count:
            return Outcome(False, lambda: [_too_few(facts, self.code, self.count)])
        if (old := _stale(self.code, self.within_days, facts, series[-1])) is not None:
            return old
        step = operator.lt if self.direction == "rising" else operator.gt
        numbers = [r.value for r in series if r.value is not None]
        matched = all(step(a, b) for a, b in itertools.pairwise(numbers))

        def explain() -> list[str]:
            said_of = {
                "item": facts.name(self.code),
                "count": self.count,
                "values": " → ".join(_fmt(r.value) for r in series),
            }
            if self.direction == "rising":
                return [
                    said(
                        gettext_noop(
                            "%(item)s rose at each of the last %(count)s results (%(values)s)"
                        )
                        if matched
                        else gettext_noop(
                            "%(item)s did not rise at each of the last %(count)s results"
                            " (%(values)s)"
                        ),
                        said_of,
                    )
                ]
            return [
                said(
                    gettext_noop("%(item)s fell at each of the last %(count)s results (%(values)s)")
                    if matched
                    else gettext_noop(
                        "%(item)s did not fall at each of the last %(count)s results (%(values)s)"
                    ),
                    said_of,
                )
            ]

        return Outcome(matched, explain)

    def codes(self) -> set[str]:
        return set(self.code)

    def depth(self) -> int:
        return self.count


@dataclass
class TimeWindow(Latest):
    """The readings taken inside a time of day (local time, may cross midnight) over the last
    ``within_days`` days (default 1): true when one of them compares so, about the newest
    that does. Not only the newest reading: a night low entered the next morning, after the
    morning's own reading, still counts; the firing is about that reading, once."""

    start: time = time(0)
    end: time = time(0)

    def inside(self, facts: Facts, reading: Reading) -> bool:
        clock = facts.local(reading.at).time()
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def evaluate(self, facts: Facts) -> Outcome:
        since = facts.now - timedelta(days=self.within_days)
        window = f"{self.start:%H:%M}–{self.end:%H:%M}"
        taken = [r for r in facts.series(self.code) if r.at >= since and self.inside(facts, r)]
        if not taken:
            return Outcome(
                False,
                lambda: [
                    said(
                        gettext_noop("%(item)s: no result within %(window)s in the last %(days)s"),
                        {
                            "item": facts.name(self.code),
                            "window": window,
                            "days": _days(self.within_days),
                        },
                    )
                ],
            )
        hits = [r for r in taken if OPS[self.op](r.value, self.value)]
        shown = hits[-1] if hits else taken[-1]
        return Outcome(
            bool(hits),
            lambda: [
                said(
                    gettext_noop("%(item)s within %(window)s: %(reading)s %(comparison)s"),
                    {
                        "item": facts.name(self.code, shown),
                        "window": window,
                        "reading": _reading(shown, facts),
                        "comparison": _compared(bool(hits), self.op, self.value),
                    },
                )
            ],
            shown if hits else None,
        )

    def history_days(self) -> int:
        return self.within_days


@dataclass
class NoReading(Condition):
    code: tuple[str, ...]
    days: int

    def evaluate(self, facts: Facts) -> Outcome:
        found = facts.last_at(self.code)
        if found is None:
            return Outcome(
                False,
                lambda: [
                    said(
                        gettext_noop("%(item)s: never a result, so not being monitored"),
                        {"item": facts.name(self.code)},
                    )
                ],
            )
        last, code = found
        matched = facts.now - last >= timedelta(days=self.days)

        def explain() -> list[str]:
            return [
                said(
                    (
                        gettext_noop("%(item)s: no result for %(days)s (the last at %(when)s)")
                        if matched
                        else gettext_noop(
                            "%(item)s: a result within the last %(days)s (the last at %(when)s)"
                        )
                    ),
                    {
                        "item": facts.name((code,)),
                        "days": _days(self.days),
                        "when": _when(facts.local(last)),
                    },
                )
            ]

        return Outcome(matched, explain)

    def codes(self) -> set[str]:
        return set(self.code)

    def series_codes(self) -> set[str]:
        return set()  # the time of the last reading is enough

    def history_days(self) -> int:
        return self.days


@dataclass
class Change(Latest):
    percent: bool = False

    def evaluate(self, facts: Facts) -> Outcome:
        series = facts.series(self.code)
        if len(series) < 2:
            return Outcome(
                False,
                lambda: [
                    said(
                        gettext_noop("%(item)s: fewer than 2 results, nothing to compare"),
                        {"item": facts.name(self.code)},
                    )
                ],
            )
        before, last = series[-2], series[-1]
        if (old := _stale(self.code, self.within_days, facts, last)) is not None:
            return old
        assert before.value is not None and last.value is not None
        change = last.value - before.value
        if self.percent:
            if before.value == 0:
                return Outcome(
                    False,
                    lambda: [
                        said(
                            gettext_noop(
                                "%(item)s: the previous result was 0, no percentage change"
                            ),
                            {"item": facts.name(self.code)},
                        )
                    ],
                )
            change = change / abs(before.value) * 100
        matched = OPS[self.op](change, self.value)

        def explain() -> list[str]:
            unit = "%" if self.percent else f" {last.unit}".rstrip()
            return [
                said(
                    gettext_noop(
                        "%(item)s changed by %(change)s from the previous result"
                        " (%(before)s → %(last)s): %(comparison)s"
                    ),
                    {
                        "item": facts.name(self.code),
                        "change": f"{change:+.4g}{unit}",
                        "before": _fmt(before.value),
                        "last": _fmt(last.value),
                        "comparison": _compared(
                            matched, self.op, self.value, "%" if self.percent else ""
                        ),
                    },
                )
            ]

        return Outcome(matched, explain)

    def depth(self) -> int:
        return 2


@dataclass
class HasTag(Condition):
    tag: str

    def evaluate(self, facts: Facts) -> Outcome:
        matched = self.tag in facts.tags
        return Outcome(
            matched,
            lambda: [
                said(
                    (
                        gettext_noop("Has the tag “%(tag)s”")
                        if matched
                        else gettext_noop("Does not have the tag “%(tag)s”")
                    ),
                    {"tag": self.tag},
                )
            ],
        )


@dataclass
class Age(Condition):
    op: str
    value: int

    def evaluate(self, facts: Facts) -> Outcome:
        age = facts.age
        if age is None:
            return Outcome(False, lambda: [said(gettext_noop("Age unknown"))])
        matched = OPS[self.op](age, self.value)
        return Outcome(
            matched,
            lambda: [
                said(
                    gettext_noop("Age %(age)s: %(comparison)s"),
                    {
                        "age": age,
                        "comparison": _versus(matched, f"{OP_TEXT[self.op]} {self.value}"),
                    },
                )
            ],
        )


@dataclass
class Sex(Condition):
    value: str

    def evaluate(self, facts: Facts) -> Outcome:
        matched = facts.sex == self.value

        def explain() -> list[str]:
            words = {
                "male": pgettext("sex, in a rule's explanation", "male"),
                "female": pgettext("sex, in a rule's explanation", "female"),
            }
            sex = words.get(facts.sex) or pgettext("sex, in a rule's explanation", "unknown")
            return [said(gettext_noop("Sex: %(sex)s"), {"sex": sex})]

        return Outcome(matched, explain)


@dataclass
class RiskTier(Condition):
    value: str

    def evaluate(self, facts: Facts) -> Outcome:
        matched = facts.risk_tier == self.value

        def explain() -> list[str]:
            if matched:
                return [
                    said(gettext_noop("Risk tier: %(tier)s"), {"tier": _tier_word(facts.risk_tier)})
                ]
            return [
                said(
                    gettext_noop("Risk tier: %(tier)s, not %(wanted)s"),
                    {"tier": _tier_word(facts.risk_tier), "wanted": _tier_word(self.value)},
                )
            ]

        return Outcome(matched, explain)


@dataclass
class Risk(Condition):
    model: str
    category: str

    def codes(self) -> set[str]:
        """The results the model reads: a result rule on it runs when one of them arrives
        (when the stored assessment may change), not on every result."""
        from careloop.rules.assessments import MODELS

        inputs = MODELS.get(self.model)
        return set(inputs[0]) if inputs else set()

    def series_codes(self) -> set[str]:
        return set()  # the stored category is read, not the readings

    def evaluate(self, facts: Facts) -> Outcome:
        found = facts.risks.get(self.model)
        matched = found == self.category
        if not found:
            return Outcome(
                matched,
                lambda: [
                    said(gettext_noop("%(model)s: not assessed"), {"model": _named(self.model)})
                ],
            )
        return Outcome(
            matched,
            lambda: [
                said(
                    gettext_noop("%(model)s assessed as %(category)s"),
                    {"model": _named(self.model), "category": found},
                )
            ],
        )


def _named(model: str) -> str:
    """A risk model as the reader's language names it (血糖状态, not its key "glucose" on a
    Chinese page); its key where Django is not set up (the checks used on their own)."""
    try:
        from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured

        from careloop.rules.assessments import LABELS
    except ImportError:  # pragma: no cover - the checks used on their own
        return model
    try:
        return str(LABELS.get(model, model))
    except (ImproperlyConfigured, AppRegistryNotReady):
        return model


@dataclass
class Diagnosis(Condition):
    prefixes: tuple[str, ...]

    def evaluate(self, facts: Facts) -> Outcome:
        hits = sorted(c for c in facts.diagnoses if c.upper().startswith(self.prefixes))
        wanted = list(self.prefixes)
        if hits:
            return Outcome(
                True,
                lambda: [
                    said(
                        gettext_noop("Diagnosis %(codes)s (under %(prefixes)s)"),
                        {"codes": hits, "prefixes": wanted},
                    )
                ],
            )
        return Outcome(
            False,
            lambda: [said(gettext_noop("No diagnosis under %(prefixes)s"), {"prefixes": wanted})],
        )


@dataclass
class NewDiagnosis(Condition):
    """A current diagnosis under the prefixes whose first one (any code under them, ever
    recorded) was made within the last ``days``: 新确诊, not a diagnosis sent again."""

    prefixes: tuple[str, ...]
    days: int

    def evaluate(self, facts: Facts) -> Outcome:
        wanted = list(self.prefixes)
        current = any(c.upper().startswith(self.prefixes) for c in facts.diagnoses)
        first = min(
            (at for c, at in facts.diagnosed_at.items() if c.upper().startswith(self.prefixes)),
            default=None,
        )
        if not current or first is None:
            return Outcome(
                False,
                lambda: [
                    said(gettext_noop("No diagnosis under %(prefixes)s"), {"prefixes": wanted})
                ],
            )
        matched = facts.now - first <= timedelta(days=self.days)
        when = f"{facts.local(first):%Y-%m-%d}"
        return Outcome(
            matched,
            lambda: [
                said(
                    (
                        gettext_noop(
                            "First diagnosed under %(prefixes)s on %(when)s: within the last "
                            "%(days)s"
                        )
                        if matched
                        else gettext_noop(
                            "First diagnosed under %(prefixes)s on %(when)s: more than %(days)s ago"
                        )
                    ),
                    {"prefixes": wanted, "when": when, "days": _days(self.days)},
                )
            ],
        )


@dataclass
class RecentProcedure(Condition):
    """A procedure done within the last ``days`` (not later than now): an operation unless
    ``surgery`` is false, of a code under ``prefixes`` when given (术后, DOMAIN F5)."""

    prefixes: tuple[str, ...]
    days: int
    surgery: bool = True

    def evaluate(self, facts: Facts) -> Outcome:
        wanted = list(self.prefixes)
        done = next(
            (
                (at, code)
                for at, code, operation in facts.procedures
                if at <= facts.now
                and (operation or not self.surgery)
                and (not self.prefixes or code.upper().startswith(self.prefixes))
            ),
            None,
        )
        if done is None:
            return Outcome(
                False,
                lambda: [
                    said(gettext_noop("No procedure under %(prefixes)s"), {"prefixes": wanted})
                    if wanted
                    else said(
                        gettext_noop("No operation on record")
                        if self.surgery
                        else gettext_noop("No procedure on record")
                    )
                ],
            )
        at, code = done
        matched = facts.now - at <= timedelta(days=self.days)
        return Outcome(
            matched,
            lambda: [
                said(
                    (
                        gettext_noop("Procedure %(code)s on %(when)s: within the last %(days)s")
                        if matched
                        else gettext_noop("Procedure %(code)s on %(when)s: more than %(days)s ago")
                    ),
                    {"code": code, "when": f"{facts.local(at):%Y-%m-%d}", "days": _days(self.days)},
                )
            ],
        )


@dataclass
class Discharged(Condition):
    days: int

    def evaluate(self, facts: Facts) -> Outcome:
        last = facts.last_discharge
        if last is None:
            return Outcome(False, lambda: [said(gettext_noop("No discharge on record"))])
        matched = facts.now - last <= timedelta(days=self.days)
        return Outcome(
            matched,
            lambda: [
                said(
                    (
                        gettext_noop("Discharged %(when)s: within the last %(days)s")
                        if matched
                        else gettext_noop("Discharged %(when)s: not within the last %(days)s")
                    ),
                    {"when": _when(facts.local(last)), "days": _days(self.days)},
                )
            ],
        )


@dataclass
class Answer(Condition):
    questionnaire: str
    item: str
    op: str
    value: Any

    def evaluate(self, facts: Facts) -> Outcome:
        given = facts.answers.get(self.questionnaire, {}).get(self.item)
        if given is None:
            return Outcome(
                False,
                lambda: [
                    said(gettext_noop("%(question)s: not answered"), {"question": self.question()})
                ],
            )
        try:
            matched = OPS[self.op](given, self.value)
        except TypeError:
            matched = False
        return Outcome(
            matched,
            lambda: [
                said(
                    gettext_noop("%(question)s: answered %(answer)s, %(comparison)s"),
                    {
                        "question": self.question(),
                        "answer": f"{given}",
                        "comparison": _versus(matched, f"{OP_TEXT[self.op]} {self.value}"),
                    },
                )
            ],
        )

    def question(self) -> str:
        return said(
            gettext_noop("%(questionnaire)s item %(item)s"),
            {"questionnaire": self.questionnaire, "item": self.item},
        )


@dataclass
class TaskOutcome(Condition):
    outcomes: tuple[str, ...]

    def evaluate(self, facts: Facts) -> Outcome:
        matched = facts.outcome in self.outcomes

        def explain() -> list[str]:
            words = _outcome_words()
            none = pgettext("follow-up outcome, in a rule's explanation", "none")
            return [
                said(
                    (
                        gettext_noop("Follow-up outcome “%(outcome)s”: one of %(wanted)s")
                        if matched
                        else gettext_noop("Follow-up outcome “%(outcome)s”: not one of %(wanted)s")
                    ),
                    {
                        "outcome": words.get(facts.outcome, facts.outcome or none),
                        "wanted": [words[o] for o in self.outcomes],
                    },
                )
            ]

        return Outcome(matched, explain)


@dataclass
class LivesAlone(Condition):
    def evaluate(self, facts: Facts) -> Outcome:
        alone = facts.lives_alone
        return Outcome(
            alone,
            lambda: [
                said(gettext_noop("Lives alone"))
                if alone
                else said(gettext_noop("Lives with others"))
            ],
        )


@dataclass
class DigitalLiteracy(Condition):
    value: str

    def evaluate(self, facts: Facts) -> Outcome:
        matched = facts.digital_literacy == self.value

        def explain() -> list[str]:
            words = _literacy_words()
            return [
                said(
                    gettext_noop("Digital literacy %(level)s"),
                    {"level": words.get(facts.digital_literacy, facts.digital_literacy)},
                )
            ]

        return Outcome(matched, explain)


@dataclass
class NotReached(Condition):
    count: int
    days: int

    def evaluate(self, facts: Facts) -> Outcome:
        since = facts.now - timedelta(days=self.days)
        found = sum(1 for moment in facts.not_reached if since <= moment <= facts.now)
        matched = found >= self.count
        return Outcome(
            matched,
            lambda: [
                said(
                    gettext_noop("Follow-ups not reached in the last %(days)s: %(found)s"),
                    {"days": _days(self.days), "found": found},
                )
            ],
        )


@dataclass
class LostRisk(Condition):
    at_least: float

    def evaluate(self, facts: Facts) -> Outcome:
        chance = facts.lost_risk
        matched = chance is not None and chance >= self.at_least
        if chance is None:
            return Outcome(
                matched, lambda: [said(gettext_noop("Lost-to-follow-up risk not scored"))]
            )
        return Outcome(
            matched,
            lambda: [
                said(
                    gettext_noop("Lost-to-follow-up risk %(chance)s"),
                    {"chance": f"{round(chance * 100)}%"},
                )
            ],
        )


def _literacy_words() -> dict[str, str]:
    return {
        "high": pgettext("digital literacy, in a rule's explanation", "high"),
        "medium": pgettext("digital literacy, in a rule's explanation", "medium"),
        "low": pgettext("digital literacy, in a rule's explanation", "low"),
    }


@dataclass
class Symptom(Condition):
    symptom: str

    def evaluate(self, facts: Facts) -> Outcome:
        matched = self.symptom in facts.symptoms
        return Outcome(
            matched,
            lambda: [
                said(
                    (
                        gettext_noop("The reply mentions %(symptom)s")
                        if matched
                        else gettext_noop("The reply does not mention %(symptom)s")
                    ),
                    {"symptom": self.symptom},
                )
            ],
        )


def _codes(data: Mapping[str, Any], path: str, known: set[str] | None) -> tuple[str, ...]:
    """``code``: one code, or a list of codes read as one item (glucose in moles and mass)."""
    given = data.get("code")
    items = given if isinstance(given, list) else [given]
    if not items or not all(isinstance(c, str) and c.strip() for c in items):
        raise RuleError(
            f"{path}.code", gettext_noop("must not be empty (a code, or a list of codes)")
        )
    codes = tuple(c.strip() for c in items)
    for code in codes:
        if known is not None and code not in known:
            raise RuleError(
                f"{path}.code",
                gettext_noop("%(code)s is not in the catalogue of tests"),
                code=repr(code),
            )
    return codes


def _series_kind(
    data: Mapping[str, Any], path: str, known: set[str] | None
) -> tuple[tuple[str, ...], str, float, int]:
    return (
        _codes(data, path, known),
        _op(data, path),
        float(_number(data, "value", path)),
        _within(data, path),
    )


def _within(data: Mapping[str, Any], path: str) -> int:
    """``within_days``: how recent the newest reading must be (default 30 days)."""
    if "within_days" not in data:
        return DEFAULT_WITHIN_DAYS
    return _count(data, "within_days", path, 1, MAX_DAYS)


def _compile_kind(data: Mapping[str, Any], path: str, known: set[str] | None) -> Condition:
    kind = data.get("kind")
    if kind == "latest":
        return Latest(*_series_kind(data, path, known))
    if kind == "consecutive":
        return Consecutive(
            *_series_kind(data, path, known), count=_count(data, "count", path, 2, MAX_COUNT)
        )
    if kind == "trend":
        direction = data.get("direction")
        if direction not in ("rising", "falling"):
            raise RuleError(f"{path}.direction", gettext_noop("must be rising or falling"))
        return Trend(
            _codes(data, path, known),
            _count(data, "count", path, 2, MAX_COUNT),
            direction,
            _within(data, path),
        )
    if kind == "time_window":
        codes, op, threshold, within = _series_kind(data, path, known)
        return TimeWindow(
            codes,
            op,
            threshold,
            within if "within_days" in data else TIME_WINDOW_DAYS,
            start=_clock(data, "from", path),
            end=_clock(data, "to", path),
        )
    if kind == "no_reading":
        return NoReading(_codes(data, path, known), _count(data, "days", path, 1, MAX_DAYS))
    if kind == "change":
        percent = data.get("percent", False)
        if not isinstance(percent, bool):
            raise RuleError(f"{path}.percent", gettext_noop("must be true or false"))
        return Change(*_series_kind(data, path, known), percent=percent)
    if kind == "tag":
        return HasTag(_text(data, "tag", path))
    if kind == "age":
        return Age(_op(data, path), _count(data, "value", path, 0, 150))
    if kind == "sex":
        if data.get("value") not in ("male", "female"):
            raise RuleError(f"{path}.value", gettext_noop("must be male or female"))
        return Sex(str(data["value"]))
    if kind == "risk_tier":
        if data.get("value") not in TIERS:
            raise RuleError(f"{path}.value", gettext_noop("must be high, medium or low"))
        return RiskTier(str(data["value"]))
    if kind == "risk":
        return Risk(_text(data, "model", path), _text(data, "category", path))
    if kind in ("diagnosis", "new_diagnosis"):
        given = data.get("prefix")
        items = given if isinstance(given, list) else [given]
        if not items or not all(isinstance(p, str) and p.strip() for p in items):
            raise RuleError(
                f"{path}.prefix",
                gettext_noop("must be an ICD-10 code prefix (as I50), or a list of prefixes"),
            )
        if kind == "new_diagnosis":
            return NewDiagnosis(
                tuple(p.strip().upper() for p in items), _count(data, "days", path, 1, MAX_DAYS)
            )
        return Diagnosis(tuple(p.strip().upper() for p in items))
    if kind == "procedure":
        given = data.get("prefix", [])
        items = given if isinstance(given, list) else [given]
        if not all(isinstance(p, str) and p.strip() for p in items):
            raise RuleError(
                f"{path}.prefix",
                gettext_noop("must be a procedure code prefix (as 36.06), or a list of prefixes"),
            )
        surgery = data.get("surgery", True)
        if not isinstance(surgery, bool):
            raise RuleError(f"{path}.surgery", gettext_noop("must be true or false"))
        return RecentProcedure(
            tuple(p.strip().upper() for p in items),
            _count(data, "days", path, 1, MAX_DAYS),
            surgery,
        )
    if kind == "discharged":
        return Discharged(_count(data, "days", path, 0, MAX_DAYS))
    if kind == "answer":
        value = data.get("value")
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise RuleError(f"{path}.value", gettext_noop("a number or a text is needed"))
        return Answer(
            _text(data, "questionnaire", path), _text(data, "item", path), _op(data, path), value
        )
    if kind == "symptom":
        return Symptom(_text(data, "symptom", path))
    if kind == "lives_alone":
        return LivesAlone()
    if kind == "digital_literacy":
        if data.get("value") not in LITERACY:
            raise RuleError(f"{path}.value", gettext_noop("must be high, medium or low"))
        return DigitalLiteracy(str(data["value"]))
    if kind == "not_reached":
        return NotReached(
            _count(data, "count", path, 1, MAX_COUNT), _count(data, "days", path, 1, MAX_DAYS)
        )
    if kind == "lost_risk":
        at_least = _number(data, "at_least", path)
        if not 0 < at_least < 1:
            raise RuleError(f"{path}.at_least", gettext_noop("must be between 0 and 1"))
        return LostRisk(float(at_least))
    if kind == "outcome":
        given = data.get("outcomes")
        if not isinstance(given, list) or not given or any(o not in OUTCOMES for o in given):
            raise RuleError(
                f"{path}.outcomes",
                gettext_noop("must be a list of these outcomes: %(outcomes)s"),
                outcomes=tuple(OUTCOMES),
            )
        return TaskOutcome(tuple(given))
    raise RuleError(
        f"{path}.kind",
        gettext_noop("unknown kind of condition %(kind)s (available: %(kinds)s)"),
        kind=repr(kind),
        kinds=" ".join(KINDS),
    )


def compile_condition(
    data: Any, path: str = "condition", *, known_codes: set[str] | None = None
) -> Condition:
    """Check ``data`` and build the condition; ``RuleError`` names what is wrong."""
    if not isinstance(data, Mapping):
        raise RuleError(path, gettext_noop("must be a JSON object"))
    for word, cls in (("all", All), ("any", Any_)):
        if word in data:
            parts = data[word]
            if len(data) != 1 or not isinstance(parts, list) or not parts:
                raise RuleError(
                    f"{path}.{word}",
                    gettext_noop("must be a non-empty list, with no other key beside it"),
                )
            return cls(
                [
                    compile_condition(p, f"{path}.{word}[{i}]", known_codes=known_codes)
                    for i, p in enumerate(parts)
                ]
            )
    if "not" in data:
        if len(data) != 1:
            raise RuleError(f"{path}.not", gettext_noop("cannot have other keys beside it"))
        return Not(compile_condition(data["not"], f"{path}.not", known_codes=known_codes))
    return _compile_kind(data, path, known_codes)

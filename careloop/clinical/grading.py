"""Grading of numeric results: reference intervals, critical bounds, interpretation.

Pure functions, no Django. An interpretation is one of
N (normal), L / H (below / above the reference interval), LL / HH (critical, 危急值).
The sender's reference range wins over the catalogue's (REFERENCE.md §4).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

NORMAL, LOW, HIGH, CRITICAL_LOW, CRITICAL_HIGH = "N", "L", "H", "LL", "HH"


@dataclass(frozen=True)
class Interval:
    """The normal interval: value ≥ low (or > low) and ≤ high (or < high)."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def below(self, value: float) -> bool:
        if self.low is None:
            return False
        return value < self.low if self.low_inclusive else value <= self.low

    def above(self, value: float) -> bool:
        if self.high is None:
            return False
        return value > self.high if self.high_inclusive else value >= self.high

    def text(self) -> str:
        """How a nurse reads it: 3.9–6.1, <5.2, ≥1.0 …"""
        low, high = _fmt(self.low), _fmt(self.high)
        if self.low is not None and self.high is not None:
            if self.low_inclusive and self.high_inclusive:
                return f"{low}–{high}"
            return (
                f"{'≥' if self.low_inclusive else '>'}{low} 且 "
                f"{'≤' if self.high_inclusive else '<'}{high}"
            )
        if self.high is not None:
            return f"{'≤' if self.high_inclusive else '<'}{high}"
        if self.low is not None:
            return f"{'≥' if self.low_inclusive else '>'}{low}"
        return ""


@dataclass(frozen=True)
class CriticalBounds:
    """Critical at or beyond a bound (inclusive) or strictly beyond it; for a qualitative
    item (a culture), ``positive``: any result that does not read negative. ``first_only``:
    only the patient's first critical result of the item counts as critical (the caller,
    which can read the record, decides; grading itself knows no history)."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    positive: bool = False
    first_only: bool = False

    def is_low(self, value: float) -> bool:
        if self.low is None:
            return False
        return value <= self.low if self.low_inclusive else value < self.low

    def is_high(self, value: float) -> bool:
        if self.high is None:
            return False
        return value >= self.high if self.high_inclusive else value > self.high

    def low_text(self) -> str:
        return (
            f"{'≤' if self.low_inclusive else '<'}{_fmt(self.low)}" if self.low is not None else ""
        )

    def high_text(self) -> str:
        return (
            f"{'≥' if self.high_inclusive else '>'}{_fmt(self.high)}"
            if self.high is not None
            else ""
        )


@dataclass(frozen=True)
class Grade:
    interpretation: str
    threshold: str = ""  # the bound that decided it, e.g. "≥6.2" or "<5.2"

    @property
    def abnormal(self) -> bool:
        return self.interpretation != NORMAL

    @property
    def critical(self) -> bool:
        return self.interpretation in (CRITICAL_LOW, CRITICAL_HIGH)


def censored_critical(
    comparator: str, value: float, critical: CriticalBounds | None
) -> Grade | None:
    """A censored result ("<2.0", ">7.0") is critical when every value it allows is: "<v"
    critically low when v is at or below the low bound, ">v" critically high when v is at or
    above the high bound; "<=v" and ">=v" when v itself is. Only the censored side counts."""
    if critical is None:
        return None
    if comparator == "<":
        low = critical.low is not None and value <= critical.low
    else:
        low = comparator == "<=" and critical.is_low(value)
    if low:
        return Grade(CRITICAL_LOW, critical.low_text())
    if comparator == ">":
        high = critical.high is not None and value >= critical.high
    else:
        high = comparator == ">=" and critical.is_high(value)
    if high:
        return Grade(CRITICAL_HIGH, critical.high_text())
    return None


def censored_grade(comparator: str, value: float, normal: Interval | None) -> Grade | None:
    """A censored result ("<0.01", ">90") against the reference interval, by every value it
    allows: below the interval when all of them are, normal when all are inside it, above
    when all are. None when they straddle a bound ("<30" glucose may be 2 or 20): not
    graded, the laboratory's own flag, if any, standing."""
    if normal is None:  # nothing to say the allowed values are normal
        return None
    text = normal.text()
    if comparator in ("<", "<="):  # (-inf, v) or (-inf, v]
        # A range from 0 ("0-5", "0-0.04") bounds nothing below: a concentration is never
        # negative, so "<0.5" there is normal (below a detection limit).
        if normal.low is not None and not (normal.low == 0 and normal.low_inclusive):
            every_below = value <= normal.low if comparator == "<" else normal.below(value)
            return Grade(LOW, text) if every_below else None
        every_inside = (
            normal.high is None or value <= normal.high
            if comparator == "<"
            else not normal.above(value)
        )
        return Grade(NORMAL, text) if every_inside else None
    if normal.high is not None:  # (v, inf) or [v, inf)
        every_above = value >= normal.high if comparator == ">" else normal.above(value)
        return Grade(HIGH, text) if every_above else None
    every_inside = (
        normal.low is None or value >= normal.low if comparator == ">" else not normal.below(value)
    )
    return Grade(NORMAL, text) if every_inside else None


def grade(value: float, normal: Interval | None, critical: CriticalBounds | None = None) -> Grade:
    """Critical bounds first, then the reference interval."""
    if critical is not None:
        if critical.is_low(value):
            return Grade(CRITICAL_LOW, critical.low_text())
        if critical.is_high(value):
            return Grade(CRITICAL_HIGH, critical.high_text())
    if normal is not None:
        if normal.below(value):
            return Grade(LOW, normal.text())
        if normal.above(value):
            return Grade(HIGH, normal.text())
    return Grade(NORMAL, normal.text() if normal else "")


# Reading a qualitative result (a culture) clause by clause: a report often adds what is not
# there to what is ("大肠埃希菌，未检出其他致病菌", "需氧瓶阳性，厌氧瓶阴性", "阳性，待鉴定").
_CLAUSES = re.compile(r"[，,；;。、()（）\[\]【】/\n]")
# Names of organisms that carry a stain or test result: a finding, whatever the word after.
_NAMED = re.compile(
    r"革兰\s*[阴阳]性|凝固酶\s*[阴阳]性|gram[\s-]*(?:negative|positive)|"
    r"coagulase[\s-]*(?:negative|positive)",
    re.IGNORECASE,
)
_POSITIVE = re.compile(r"阳性|positive|\bpos\b|\+|(?<!未)检出", re.IGNORECASE)
_NEGATIVE = re.compile(
    r"阴性|未检出|未见|无[^，,；;。]{0,12}生长|未生长|未分离|未培养出|无菌|无致病菌|正常|"
    r"negative|\bneg\b|not\s+detected|not\s+isolated|no\s+growth|no\s+(?:\w+\s+)?organisms?|"
    r"no\s+(?:\w+\s+)?bacteria|^\s*[-－]\s*$",
    re.IGNORECASE,
)
_PENDING = re.compile(
    r"待|未出|未报|培养中|进行中|pending|in\s+progress|to\s+follow|not\s+reported",
    re.IGNORECASE,
)


def reads_positive(text: str) -> bool:
    """Whether a qualitative result reports something found: "阳性", "+", "大肠埃希菌",
    "Staphylococcus aureus", "革兰阴性杆菌", "凝固酶阴性葡萄球菌", "阳性，待鉴定",
    "大肠埃希菌，未检出其他致病菌", "需氧瓶阳性，厌氧瓶阴性". Not: empty, negative ("阴性",
    "无细菌生长", "无致病菌生长", "未分离出病原菌", "No growth at 48 hours", "No organisms
    isolated", "正常", "-", "（-）"), or not reported yet ("待报告", "报告未出", "培养中").

    Any clause that finds something makes the result positive; a clause that only says what
    is absent or still to come does not; a clause that is neither names what grew (a missed
    positive culture costs more than one checked)."""
    if _NAMED.search(text):
        return True
    return any(_clause_finds(clause.strip()) for clause in _CLAUSES.split(text))


def _clause_finds(clause: str) -> bool:
    if not clause or clause in ("-", "－"):
        return False
    if _POSITIVE.search(clause):
        return True
    return not (_NEGATIVE.search(clause) or _PENDING.search(clause))


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_INTERVAL = re.compile(rf"^\s*([\[(])\s*({_NUMBER})?\s*,\s*({_NUMBER})?\s*([\])])\s*$")
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:-{{1,2}}|~|～|—|–|至|到)\s*({_NUMBER})\s*$")
_ONE_SIDED = re.compile(rf"^\s*(<=|>=|≤|≥|<|>|＜|＞)\s*({_NUMBER})\s*$")


def parse_interval(text: str) -> Interval:
    """Our own notation, as in data/reference_ranges.tsv: "[3.9, 6.1)", "(, 85)", "[90, )"."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"not an interval: {text!r}")
    opening, low, high, closing = match.groups()
    return Interval(
        low=float(low) if low else None,
        high=float(high) if high else None,
        low_inclusive=opening == "[",
        high_inclusive=closing == "]",
    )


def parse_sender_range(text: str) -> Interval | None:
    """A range as laboratories send it (HL7 OBX-7, Excel): "3.9-6.1", "3.9~6.1", "<5.2",
    ">=1.0", "≤ 5.2". Two-sided ranges include both ends. None when it is not numeric
    (e.g. "阴性"), so the catalogue's range applies instead.
    """
    return _sender_range(text or "")


@functools.lru_cache(maxsize=4096)  # a laboratory sends the same few ranges all day
def _sender_range(text: str) -> Interval | None:
    text = text.strip()
    if not text:
        return None
    if _INTERVAL.match(text):  # our own notation, "[3.9, 7.8)" (the patient pages send it)
        interval = parse_interval(text)
        return interval if interval.low is not None or interval.high is not None else None
    if match := _RANGE.match(text):
        low, high = float(match[1]), float(match[2])
        if low > high:
            return None
        return Interval(low=low, high=high)
    if match := _ONE_SIDED.match(text):
        sign, number = match[1], float(match[2])
        if sign in ("<", "＜"):
            return Interval(high=number, high_inclusive=False)
        if sign in ("<=", "≤"):
            return Interval(high=number, high_inclusive=True)
        if sign in (">", "＞"):
            return Interval(low=number, low_inclusive=False)
        return Interval(low=number, low_inclusive=True)
    return None


def parse_critical(low_text: str, high_text: str) -> CriticalBounds:
    """Bounds as written in data/critical_values.tsv: "<= 2.8" and ">= 6.2" (either blank)."""
    low = high = None
    low_inclusive = high_inclusive = True
    if low_text.strip():
        match = _ONE_SIDED.match(low_text)
        if not match or match[1] not in ("<", "<="):
            raise ValueError(f"critical low must be '< x' or '<= x': {low_text!r}")
        low, low_inclusive = float(match[2]), match[1] == "<="
    if high_text.strip():
        match = _ONE_SIDED.match(high_text)
        if not match or match[1] not in (">", ">="):
            raise ValueError(f"critical high must be '> x' or '>= x': {high_text!r}")
        high, high_inclusive = float(match[2]), match[1] == ">="
    return CriticalBounds(low, high, low_inclusive, high_inclusive)

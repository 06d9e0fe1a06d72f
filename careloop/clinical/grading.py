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


# Reading a qualitative result (a culture) sentence by sentence: a report often adds what is
# not there to what is ("大肠埃希菌，未检出其他致病菌", "需氧瓶报阳 厌氧瓶未生长").
_SENTENCES = re.compile(
    r"[，,；;。\n]|(?<=[\u4e00-\u9fff）)])\s+(?=[\u4e00-\u9fff])|(?<![A-Z])\.(?:\s+|$)|\s+-\s+"
)
# Words that qualify an organism or its susceptibility, not the culture: read as neutral.
_QUALIFIERS = re.compile(
    r"(?:ESBL|MRSA|MSSA|CRKP|CRE|KPC|VRE|碳青霉烯酶|头孢西丁筛选|超广谱β-内酰胺酶|carbapenemase)"
    r"\s*(?:阴性|阳性|negative|positive|not\s+detected|detected)?|凝固酶\s*[阴阳]性|"
    r"coagulase[\s-]*(?:negative|positive)|革兰\s*[阴阳]性|gram[\s-]*(?:negative|positive)",
    re.IGNORECASE,
)
_NAMES_WITH_NEGATION = re.compile(r"无(?=乳链球菌|色杆菌)")  # 无乳链球菌, 无色杆菌: organisms
# What is found: an organism (…菌, a binomial, a genus) or a positive signal.
_FOUND = re.compile(
    r"菌|霉|酵母|念珠|支原体|阳性|报阳|(?<![未没])检出|(?<![未没])找到|生长|污染|"
    r"\bpos(?:itive)?\b|isolated|growth|detected|\bseen\b|cocci|coccus|bacill|\brods?\b|"
    r"yeast|candida|organisms?|contaminant|species|\bspp\b|"
    r"\b(?!(?:Gram|Final|Negative|No|Not|Sterile|Aerobic|Anaerobic|Culture|Blood|Bottle|"
    r"Specimen|Sample|Preliminary|Report|Incubat\w*|Susceptibility|Sensitivities|"
    r"Identification|After|Growth)\b)[A-Z][a-z]{2,}\s+[a-z]{3,}|\b[A-Z]\.\s?[a-z]{3,}",
)
# What denies it, when it comes first: "无细菌生长", "未见革兰阴性杆菌", "No growth".
_DENIED = re.compile(
    r"阴性|未检出|未见|未发现|未找到|未分离|未培养出|未生长|未|无|没有|"
    r"\bno\b|\bnot\b|negative|\bneg\b|sterile|[(（]\s*[-－]\s*[)）]|^\s*[-－]\s*$",
    re.IGNORECASE,
)
_PLUS = re.compile(r"^\s*[(（]?\s*[+＋]+\s*[)）]?\s*$")


def reads_positive(text: str) -> bool:
    """Whether a qualitative result reports something found: "阳性", "+", "大肠埃希菌",
    "Staphylococcus aureus isolated", "革兰阴性杆菌", "凝固酶阴性葡萄球菌", "需氧瓶报阳待鉴定",
    "大肠埃希菌ESBL阴性", "大肠埃希菌，未检出其他致病菌", "考虑污染". Not: negative ("阴性",
    "无细菌生长", "未见革兰阴性杆菌", "No growth after 5 days", "No organisms isolated", "-"),
    nothing found yet ("待报告", "培养中", "Incubating"), or words that name nothing
    ("标本不合格", "需氧瓶、厌氧瓶均阴性").

    A sentence reports a finding when it names one before anything that denies it."""
    return any(_sentence_finds(sentence) for sentence in _SENTENCES.split(text or ""))


def _sentence_finds(sentence: str) -> bool:
    if _PLUS.match(sentence):
        return True
    sentence = _NAMES_WITH_NEGATION.sub("", _QUALIFIERS.sub(" ", sentence))
    found = _FOUND.search(sentence)
    if found is None:
        return False
    denied = _DENIED.search(sentence)
    return denied is None or found.start() < denied.start()


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_INTERVAL = re.compile(rf"^\s*([\[(])\s*({_NUMBER})?\s*,\s*({_NUMBER})?\s*([\])])\s*$")
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:-{{1,2}}|~|～|—|–|至|到)\s*({_NUMBER})\s*$")
# One separator and a signed second bound: "-3.0--1.0" is -3.0 to -1.0 (read by _RANGE alone
# as -3.0 to 1.0, its "--" taken for the separator); "3.9--6.1" still reads as _RANGE does.
_SIGNED_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:-|~|～|—|–|至|到)\s*({_NUMBER})\s*$")
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
    if (match := _SIGNED_RANGE.match(text)) and float(match[1]) < float(match[2]):
        return Interval(low=float(match[1]), high=float(match[2]))
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

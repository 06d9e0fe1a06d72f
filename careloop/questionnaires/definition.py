"""A questionnaire as checked JSON (no Django imports): its items, skip logic, scoring and
the flags that raise alerts. ``DefinitionError`` names the part that is wrong::

    {"code": "phq9", "title": "PHQ-9 抑郁症筛查量表", "intro": "…",
     "items": [
       {"key": "q1", "type": "choice", "text": "做事时提不起劲或没有兴趣",
        "options": [{"value": "0", "label": "完全不会", "score": 0}, …]},
       {"key": "sbp", "type": "number", "text": "收缩压", "unit": "mmHg", "min": 50, "max": 300},
       {"key": "pain", "type": "scale", "text": "疼痛评分", "min": 0, "max": 10,
        "enable_when": {"item": "chest_pain", "equals": "yes"}},
       {"key": "when", "type": "date", "text": "上次复查日期", "required": false},
       {"key": "sleep", "type": "matrix", "text": "…", "rows": [{"key": "a", "text": "…"}],
        "options": […]}],
     "scoring": {"items": ["q1", …], "bands": [{"min": 0, "max": 4, "label": "…"}, …]},
     "flags": [{"item": "q9", "gt": 0, "title": "…", "symptom": "自伤风险",
                "severity": "critical"}],
     "nps": "recommend"}

``assessment`` names a clinical model that reads the answers (``tcm-constitution``: items
A1–I7 answered 1–5); its result is the response's result and is kept as a risk assessment.

Item types: ``choice`` (one option), ``multi`` (several), ``number`` (with ``unit``, ``min``,
``max``), ``text`` (``max_length``), ``date``, ``scale`` (whole numbers ``min``–``max``, 0–10
by default), ``matrix`` (one option per row). ``enable_when`` shows an item only when an
earlier answer ``equals``, ``not_equals``, is ``in`` a list, ``gt`` or ``lt`` a value; a
hidden item is not asked, not required and not scored. The total sums the chosen options'
scores (matrix: every row) and scale values of the scoring items; its band is named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from careloop.said import CheckError, gettext_noop, said

TYPES = ("choice", "multi", "number", "text", "date", "scale", "matrix")
CONDITIONS = ("equals", "not_equals", "in", "gt", "lt")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_ITEMS = 200
# Clinical models a questionnaire may hand its answers to ("assessment": …).
ASSESSMENTS = ("tcm-constitution",)


class DefinitionError(CheckError):
    """A questionnaire that cannot be used (``path``: ``message``, in the reader's
    language)."""


class AnswerError(ValueError):
    """Answers that do not fit the questionnaire: ``errors`` maps item key → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    score: float | None = None


@dataclass(frozen=True)
class Condition:
    item: str
    op: str
    value: Any

    def holds(self, answers: Mapping[str, Any]) -> bool:
        given = answers.get(self.item)
        if given is None:
            return False
        if self.op == "equals":
            return given == self.value or (isinstance(given, list) and self.value in given)
        if self.op == "not_equals":
            return given != self.value
        if self.op == "in":
            return given in self.value
        try:
            return float(given) > self.value if self.op == "gt" else float(given) < self.value
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class Item:
    key: str
    type: str
    text: str
    required: bool = True
    options: tuple[Option, ...] = ()
    rows: tuple[tuple[str, str], ...] = ()
    unit: str = ""
    min: float | None = None
    max: float | None = None
    max_length: int = 500
    min_label: str = ""
    max_label: str = ""
    enable_when: Condition | None = None

    def option(self, value: Any) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str


@dataclass(frozen=True)
class Flag:
    """An answer (or total) that needs a person: raises an alert with ``title``."""

    title: str
    severity: str
    item: str = ""
    condition: Condition | None = None
    total_at_least: float | None = None
    symptom: str = ""


@dataclass(frozen=True)
class Definition:
    code: str
    title: str
    items: tuple[Item, ...]
    intro: str = ""
    scored: tuple[str, ...] = ()
    bands: tuple[Band, ...] = ()
    flags: tuple[Flag, ...] = ()
    nps: str = ""
    assessment: str = ""  # a clinical model that reads the answers

    def item(self, key: str) -> Item | None:
        return next((i for i in self.items if i.key == key), None)


@dataclass
class Result:
    """Checked answers (hidden items dropped) with the total, its band, the NPS group and the
    flags raised."""

    answers: dict[str, Any]
    total: float | None = None
    band: str = ""
    nps: str = ""
    flags: list[Flag] = field(default_factory=list)


# -- reading a definition ------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, path: str, limit: int, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise DefinitionError(f"{path}.{key}", gettext_noop("must be text"))
    value = value.strip()
    if required and not value:
        raise DefinitionError(f"{path}.{key}", gettext_noop("must not be empty"))
    if len(value) > limit:
        raise DefinitionError(
            f"{path}.{key}", gettext_noop("at most %(limit)s characters"), limit=limit
        )
    return value


def _number(data: Mapping[str, Any], key: str, path: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DefinitionError(f"{path}.{key}", gettext_noop("must be a number"))
    return float(value)


def _options(data: Any, path: str) -> tuple[Option, ...]:
    if not isinstance(data, list) or not data:
        raise DefinitionError(path, gettext_noop("must be a non-empty list of options"))
    options, seen = [], set()
    for n, item in enumerate(data):
        where = f"{path}[{n}]"
        if not isinstance(item, Mapping):
            raise DefinitionError(where, gettext_noop("must be an object with value and label"))
        value = _text(item, "value", where, 40)
        if value in seen:
            raise DefinitionError(
                f"{where}.value",
                gettext_noop("the option value %(value)s appears twice"),
                value=repr(value),
            )
        seen.add(value)
        options.append(
            Option(value, _text(item, "label", where, 200), _number(item, "score", where))
        )
    return tuple(options)


def _condition(data: Any, path: str, earlier: Mapping[str, Item]) -> Condition:
    if not isinstance(data, Mapping) or "item" not in data:
        raise DefinitionError(path, gettext_noop("must be an object with item and one condition"))
    key = data["item"]
    if key not in earlier:
        raise DefinitionError(
            f"{path}.item",
            gettext_noop("must be an earlier question (%(key)s is not)"),
            key=repr(key),
        )
    ops = [op for op in CONDITIONS if op in data]
    if len(ops) != 1:
        raise DefinitionError(
            path,
            gettext_noop("must have exactly one condition: %(conditions)s"),
            conditions=tuple(CONDITIONS),
        )
    op, value = ops[0], data[ops[0]]
    if op in ("gt", "lt") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise DefinitionError(f"{path}.{op}", gettext_noop("must be a number"))
    if op == "in" and not isinstance(value, list):
        raise DefinitionError(f"{path}.in", gettext_noop("must be a list"))
    target = earlier[key]
    if target.type == "matrix":
        raise DefinitionError(
            f"{path}.item", gettext_noop("a matrix question cannot be a condition")
        )
    if target.type in ("choice", "multi") and op in ("equals", "not_equals", "in"):
        allowed = {o.value for o in target.options}
        wrong = [v for v in (value if op == "in" else [value]) if v not in allowed]
        if wrong:
            raise DefinitionError(
                f"{path}.{op}",
                gettext_noop("%(value)s is not an option of %(key)s"),
                value=repr(wrong[0]),
                key=key,
            )
    return Condition(key, op, value)


def _item(data: Any, path: str, earlier: Mapping[str, Item]) -> Item:
    if not isinstance(data, Mapping):
        raise DefinitionError(path, gettext_noop("must be a JSON object"))
    key = _text(data, "key", path, 40)
    if not key.replace("_", "").replace("-", "").isalnum() or not key.isascii():
        raise DefinitionError(
            f"{path}.key", gettext_noop("may contain only English letters, digits, - and _")
        )
    if key in earlier:
        raise DefinitionError(
            f"{path}.key", gettext_noop("question %(key)s appears twice"), key=repr(key)
        )
    kind = data.get("type")
    if kind not in TYPES:
        raise DefinitionError(
            f"{path}.type", gettext_noop("must be one of %(choices)s"), choices=tuple(TYPES)
        )
    required = data.get("required", True)
    if not isinstance(required, bool):
        raise DefinitionError(f"{path}.required", gettext_noop("must be true or false"))
    low, high = _number(data, "min", path), _number(data, "max", path)
    if kind == "scale":
        low, high = (0.0 if low is None else low), (10.0 if high is None else high)
    if low is not None and high is not None and low >= high:
        raise DefinitionError(f"{path}.max", gettext_noop("must be greater than min"))
    rows: tuple[tuple[str, str], ...] = ()
    if kind == "matrix":
        raw_rows = data.get("rows")
        if not isinstance(raw_rows, list) or not raw_rows:
            raise DefinitionError(
                f"{path}.rows", gettext_noop("a matrix question must list its rows")
            )
        rows = tuple(
            (_text(r, "key", f"{path}.rows[{n}]", 40), _text(r, "text", f"{path}.rows[{n}]", 200))
            if isinstance(r, Mapping)
            else _bad_row(f"{path}.rows[{n}]")
            for n, r in enumerate(raw_rows)
        )
    options = (
        _options(data.get("options"), f"{path}.options")
        if kind
        in (
            "choice",
            "multi",
            "matrix",
        )
        else ()
    )
    when = data.get("enable_when")
    return Item(
        key=key,
        type=kind,
        text=_text(data, "text", path, 500),
        required=required,
        options=options,
        rows=rows,
        unit=_text(data, "unit", path, 20, required=False),
        min=low,
        max=high,
        max_length=int(_number(data, "max_length", path) or 500),
        min_label=_text(data, "min_label", path, 40, required=False),
        max_label=_text(data, "max_label", path, 40, required=False),
        enable_when=_condition(when, f"{path}.enable_when", earlier) if when else None,
    )


def _bad_row(path: str) -> tuple[str, str]:
    raise DefinitionError(path, gettext_noop("must be an object with key and text"))


def _flag(data: Any, path: str, items: Mapping[str, Item]) -> Flag:
    if not isinstance(data, Mapping):
        raise DefinitionError(path, gettext_noop("must be an object"))
    severity = data.get("severity", "high")
    if severity not in SEVERITIES:
        raise DefinitionError(
            f"{path}.severity",
            gettext_noop("must be one of %(choices)s"),
            choices=tuple(SEVERITIES),
        )
    total = _number(data, "total_at_least", path)
    condition = None
    if "item" in data:
        condition = _condition(data, path, items)
    elif total is None:
        raise DefinitionError(
            path, gettext_noop("must give item and a condition, or total_at_least")
        )
    return Flag(
        title=_text(data, "title", path, 200),
        severity=severity,
        item=condition.item if condition else "",
        condition=condition,
        total_at_least=total,
        symptom=_text(data, "symptom", path, 20, required=False),
    )


def compile_definition(data: Any) -> Definition:
    """Check a questionnaire; ``DefinitionError`` says what is wrong and where."""
    if not isinstance(data, Mapping):
        raise DefinitionError("questionnaire", gettext_noop("must be a JSON object"))
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise DefinitionError("items", gettext_noop("must be a non-empty list"))
    if len(raw_items) > MAX_ITEMS:
        raise DefinitionError("items", gettext_noop("at most %(count)s questions"), count=MAX_ITEMS)
    items: dict[str, Item] = {}
    for n, raw in enumerate(raw_items):
        item = _item(raw, f"items[{n}]", items)
        items[item.key] = item
    scoring = data.get("scoring") or {}
    if not isinstance(scoring, Mapping):
        raise DefinitionError("scoring", gettext_noop("must be an object"))
    scored = tuple(scoring.get("items", []))
    for n, key in enumerate(scored):
        if key not in items or items[key].type not in ("choice", "scale", "matrix", "multi"):
            raise DefinitionError(
                f"scoring.items[{n}]",
                gettext_noop("%(key)s is not a question that can be scored"),
                key=repr(key),
            )
    bands = []
    for n, band in enumerate(scoring.get("bands", [])):
        where = f"scoring.bands[{n}]"
        if not isinstance(band, Mapping):
            raise DefinitionError(where, gettext_noop("must be an object with min, max and label"))
        low, high = _number(band, "min", where), _number(band, "max", where)
        if low is None or high is None or low > high:
            raise DefinitionError(where, gettext_noop("must give min ≤ max"))
        bands.append(Band(low, high, _text(band, "label", where, 40)))
    flags = tuple(_flag(f, f"flags[{n}]", items) for n, f in enumerate(data.get("flags", [])))
    nps = data.get("nps", "")
    assessment = data.get("assessment", "")
    if assessment and assessment not in ASSESSMENTS:
        raise DefinitionError(
            "assessment", gettext_noop("must be one of %(choices)s"), choices=tuple(ASSESSMENTS)
        )
    if nps and (nps not in items or items[nps].type != "scale"):
        raise DefinitionError("nps", gettext_noop("must be the key of a 0–10 scale question"))
    return Definition(
        code=_text(data, "code", "questionnaire", 40),
        title=_text(data, "title", "questionnaire", 200),
        intro=_text(data, "intro", "questionnaire", 2000, required=False),
        items=tuple(items.values()),
        scored=scored,
        bands=tuple(bands),
        flags=flags,
        nps=nps,
        assessment=assessment,
    )


# -- reading answers -----------------------------------------------------------------------


def visible(definition: Definition, answers: Mapping[str, Any]) -> list[Item]:
    """The items asked, given the answers so far (skip logic)."""
    return [i for i in definition.items if i.enable_when is None or i.enable_when.holds(answers)]


def _check(item: Item, value: Any) -> tuple[Any, str]:
    """(the value as stored, "" or what is wrong)."""
    if item.type == "choice":
        value = str(value)
        return value, "" if item.option(value) else said(
            gettext_noop("is not one of the answers offered")
        )
    if item.type == "multi":
        values = value if isinstance(value, list) else [value]
        values = list(dict.fromkeys(str(v) for v in values))  # each option once
        bad = [v for v in values if item.option(v) is None]
        return values, said(
            gettext_noop("are not among the answers offered: %(values)s"), {"values": bad}
        ) if bad else ""
    if item.type == "matrix":
        if not isinstance(value, Mapping):
            return value, said(gettext_noop("choose one answer on each row"))
        rows = {row: str(value.get(row, "")) for row, _text in item.rows}
        missing = [text for row, text in item.rows if item.option(rows[row]) is None]
        return rows, said(
            gettext_noop("choose one answer for “%(row)s”"), {"row": missing[0]}
        ) if missing else ""
    if item.type in ("number", "scale"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value, said(gettext_noop("must be a number"))
        if not math.isfinite(number):
            return value, said(gettext_noop("must be a number"))
        if item.type == "scale" and number != int(number):
            return value, said(gettext_noop("must be a whole number"))
        too_low = item.min is not None and number < item.min
        too_high = item.max is not None and number > item.max
        if too_low or too_high:
            return value, _range(item)
        return (int(number) if number == int(number) else number), ""
    if item.type == "date":
        try:
            return date.fromisoformat(str(value)).isoformat(), ""
        except ValueError:
            return value, said(gettext_noop("must be a date as YYYY-MM-DD"))
    text = str(value).strip()
    too_long = len(text) > item.max_length
    return text, said(
        gettext_noop("at most %(limit)s characters"), {"limit": item.max_length}
    ) if too_long else ""


def check(item: Item, value: Any) -> tuple[Any, str]:
    """One answer on its own (a keypad's, as it comes): (the value as stored, "" or what is
    wrong, in the reader's language)."""
    return _check(item, value)


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _range(item: Item) -> str:
    unit = item.unit
    if item.min is not None and item.max is not None:
        return said(
            gettext_noop("must be between %(low)s and %(high)s"),
            {"low": _plain(item.min), "high": f"{_plain(item.max)}{unit}"},
        )
    if item.min is not None:
        return said(
            gettext_noop("must not be less than %(low)s"), {"low": f"{_plain(item.min)}{unit}"}
        )
    return said(
        gettext_noop("must not be more than %(high)s"), {"high": f"{_plain(item.max or 0)}{unit}"}
    )


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def evaluate(definition: Definition, raw: Mapping[str, Any]) -> Result:
    """Check answers against the questionnaire and score them. ``AnswerError`` lists every
    item that is missing or wrong; answers to hidden or unknown items are dropped."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in definition.items:
        if item.enable_when is not None and not item.enable_when.holds(answers):
            continue
        value = raw.get(item.key)
        if _empty(value):
            if item.required:
                errors[item.key] = said(gettext_noop("an answer is required"))
            continue
        stored, problem = _check(item, value)
        if problem:
            errors[item.key] = problem
        else:
            answers[item.key] = stored
    if errors:
        raise AnswerError(errors)
    result = Result(answers=answers)
    if definition.scored:
        result.total = _total(definition, answers)
        result.band = next(
            (b.label for b in definition.bands if b.low <= result.total <= b.high), ""
        )
    if definition.nps and definition.nps in answers:
        score = answers[definition.nps]
        result.nps = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    result.flags = [f for f in definition.flags if _raised(f, answers, result.total)]
    return result


def _total(definition: Definition, answers: Mapping[str, Any]) -> float:
    total = 0.0
    for key in definition.scored:
        item, value = definition.item(key), answers.get(key)
        if item is None or value is None:
            continue
        if item.type == "scale":
            total += float(value)
        elif item.type == "matrix":
            total += sum((item.option(v) or Option("", "")).score or 0 for v in value.values())
        else:
            chosen = value if isinstance(value, list) else [value]
            total += sum((item.option(v) or Option("", "")).score or 0 for v in chosen)
    return total


def _raised(flag: Flag, answers: Mapping[str, Any], total: float | None) -> bool:
    if flag.condition is not None:
        return flag.condition.holds(answers)
    return total is not None and flag.total_at_least is not None and total >= flag.total_at_least

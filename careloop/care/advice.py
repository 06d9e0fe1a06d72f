"""The advice library (饮食/运动/心理健康建议, F13) as checked data, and which entries fit a
person (no Django imports).

An entry applies when any of its ``when`` conditions holds — a diagnosis (ICD-10 prefix),
a latest result flagged high or low (LOINC), a risk assessment's category, smoking, a PHQ-9
total at least some score, a tag — and the person is within its ``age_min``/``age_max``
and ``sex``, when given."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

LIBRARY = Path(__file__).with_name("data") / "advice.json"
CATEGORIES = ("diet", "exercise", "mental", "lifestyle")
TOPICS = {
    "hypertension": "高血压",
    "diabetes": "糖尿病",
    "dyslipidaemia": "血脂异常",
    "obesity": "超重与肥胖",
    "fatty_liver": "脂肪肝",
    "hyperuricaemia": "高尿酸血症",
    "smoking": "吸烟",
    "low_mood": "情绪低落",
    "sleep": "睡眠",
    "tcm": "中医体质调养",
}
_NO_NAMES: Mapping[str, str] = {}
WHEN_KEYS = ("icd10", "high", "low", "assessment", "smoking", "phq9_at_least", "tags")


class AdviceError(ValueError):
    pass


@dataclass(frozen=True)
class Profile:
    """What the library reads about a person."""

    age: int
    sex: str  # male / female
    icd10: tuple[str, ...] = ()
    high: frozenset[str] = frozenset()  # LOINC codes whose latest value is high
    low: frozenset[str] = frozenset()
    assessments: dict[str, str] = field(default_factory=dict)  # model → category
    smoker: bool = False
    phq9: float | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Entry:
    code: str
    topic: str
    category: str
    title: str
    text: str
    when: dict[str, Any]
    age_min: int | None = None
    age_max: int | None = None
    sex: str = ""

    @property
    def topic_label(self) -> str:
        return TOPICS[self.topic]

    def reasons(
        self,
        person: Profile,
        item_names: Mapping[str, str] = _NO_NAMES,
        model_names: Mapping[str, str] = _NO_NAMES,
    ) -> list[str]:
        """Why the entry applies to ``person`` (empty: it does not), results and risk models
        by their names when ``item_names`` (LOINC → name) and ``model_names`` have them."""

        def item(code: str) -> str:
            return item_names.get(code) or f"{code} "

        if self.age_min is not None and person.age < self.age_min:
            return []
        if self.age_max is not None and person.age > self.age_max:
            return []
        if self.sex and person.sex != self.sex:
            return []
        when, why = self.when, []
        codes = [c for c in person.icd10 if any(c.startswith(p) for p in when.get("icd10", []))]
        why += [f"诊断 {c}" for c in codes]
        why += [f"{item(c)}偏高" for c in sorted(person.high & set(when.get("high", [])))]
        why += [f"{item(c)}偏低" for c in sorted(person.low & set(when.get("low", [])))]
        for model, categories in when.get("assessment", {}).items():
            if person.assessments.get(model) in categories:
                category = person.assessments[model]
                if model == "glucose":  # kept as codes (diabetes, IFG …), read in words
                    from careloop.rules.risk.glucose import LABELS as GLUCOSE

                    category = GLUCOSE.get(category, category)
                why.append(f"{model_names.get(model, model)}：{category}")
        if when.get("smoking") and person.smoker:
            why.append("吸烟")
        floor = when.get("phq9_at_least")
        if floor is not None and person.phq9 is not None and person.phq9 >= floor:
            why.append(f"PHQ-9 {person.phq9:g} 分")
        why += [f"标签 {t}" for t in sorted(person.tags & set(when.get("tags", [])))]
        return why


def _entry(data: Any, n: int) -> Entry:
    where = f"entries[{n}]"
    if not isinstance(data, dict):
        raise AdviceError(f"{where}: 须为一个对象")
    for key in ("code", "topic", "category", "title", "text"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise AdviceError(f"{where}.{key}: 不能为空")
    if data["topic"] not in TOPICS:
        raise AdviceError(f"{where}.topic: 须为 {'、'.join(TOPICS)} 之一")
    if data["category"] not in CATEGORIES:
        raise AdviceError(f"{where}.category: 须为 {'、'.join(CATEGORIES)} 之一")
    when = data.get("when")
    if not isinstance(when, dict) or not when or set(when) - set(WHEN_KEYS):
        raise AdviceError(f"{where}.when: 须给出条件，只能用 {'、'.join(WHEN_KEYS)}")
    return Entry(
        code=data["code"],
        topic=data["topic"],
        category=data["category"],
        title=data["title"],
        text=data["text"],
        when=when,
        age_min=data.get("age_min"),
        age_max=data.get("age_max"),
        sex=data.get("sex", ""),
    )


def read_library(data: Any) -> tuple[Entry, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise AdviceError('须为 {"entries": [...]}')
    entries = tuple(_entry(item, n) for n, item in enumerate(data["entries"]))
    codes = [e.code for e in entries]
    if len(codes) != len(set(codes)):
        raise AdviceError("entries: code 重复")
    return entries


def _regimens() -> list[dict[str, Any]]:
    """One entry per biased constitution, its regimen from the TCM model."""
    from careloop.rules.risk.tcm import PINGHE, REGIMEN

    return [
        {
            "code": f"tcm-{name}",
            "topic": "tcm",
            "category": "lifestyle",
            "title": f"{name}调养",
            "text": text,
            "when": {"assessment": {"tcm-constitution": [name]}},
        }
        for name, text in REGIMEN.items()
        if name != PINGHE
    ]


@cache
def library() -> tuple[Entry, ...]:
    data = json.loads(LIBRARY.read_text(encoding="utf-8"))
    return read_library({"entries": [*data["entries"], *_regimens()]})


def advise(
    person: Profile,
    item_names: Mapping[str, str] = _NO_NAMES,
    model_names: Mapping[str, str] = _NO_NAMES,
) -> list[tuple[Entry, list[str]]]:
    """The entries that fit ``person`` with the reasons, in library order (results and risk
    models named as ``Entry.reasons`` says)."""
    found = [(entry, entry.reasons(person, item_names, model_names)) for entry in library()]
    return [(entry, why) for entry, why in found if why]

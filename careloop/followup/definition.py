"""A pathway definition as checked JSON (no Django imports). ``DefinitionError`` names the
part that is wrong, so the editor can point at it::

    {"trigger": {"kind": "discharge", "icd10": ["I50", "I25"], "within_days": 7},
    (a discharge trigger with no ICD-10 prefixes takes any discharge no other pathway took)
     "nodes": [
       {"key": "d1", "title": "出院护理指导", "purpose": "rehab_guidance", "day": 1,
        "channels": ["phone", "wechat"], "role": "nurse", "form": "care_guide",
        "script": {"opening": "…", "questions": "…", "advice": "…", "revisit": "…",
                   "closing": "…"}},
       {"key": "wound", "title": "伤口检查", "purpose": "condition_tracking",
        "every": "daily", "count": 14, "day": 1, "form": "wound"},
       {"key": "tier", "title": "出院随访", "purpose": "condition_tracking",
        "every": "tier_matrix"},
       {"key": "visit", "title": "高血压随访", "purpose": "condition_tracking",
        "every": "programme", "programme": "htn", "day": 7, "channels": ["clinic", "phone"]}]}

Channel policy: ``channels`` is the order to try; ``channel_rules`` (optional) replace it for
patients who match, the first rule that matches winning (DOMAIN.md F9)::

    "channel_rules": [
      {"when": {"risk": ["high"]}, "channels": ["phone", "voice"]},
      {"when": {"age_min": 75}, "channels": ["phone", "letter"]},
      {"when": {"literacy": ["low"]}, "channels": ["phone", "voice", "letter"]},
      {"when": {"age_max": 59, "literacy": ["high", "medium"]},
       "channels": ["wechat", "app", "voice", "phone"]}]

Rules at the top of the definition apply to every node without its own.
``when`` may hold ``age_min``, ``age_max``, ``literacy`` (high/medium/low), ``risk`` and
``value`` (tiers high/medium/low), ``lives_alone``; all given must hold. Within the chosen
list the patient's preferred channel goes first when the list has it.

Node timing: ``day`` is the offset from the trigger (the discharge, the result, the
enrolment) of the first occurrence; ``every`` repeats it (daily, weekly, monthly, quarterly,
``interval`` periods apart) ``count`` times or until ``for_days`` after the trigger or the
date ``until``. ``tier_matrix`` takes the frequency from the patient's risk × value tiers
(DOMAIN.md F7); ``programme`` (hypertension ``htn``, type 2 diabetes ``dm``) schedules each
visit from the classification of the one before (national specification). ``window`` is the
time of day (default 09:00–17:00); ``grace_days`` how many days after the due day it may
still be done before it counts as overdue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from careloop.said import CheckError, gettext_noop

PURPOSES = {
    "condition_tracking": "病情跟踪",
    "rehab_guidance": "康复指导",
    "revisit_reminder": "复诊提醒",
    "emotional_care": "情感关怀",
    "satisfaction": "满意度",
}
TRIGGERS = ("discharge", "abnormal", "diagnosis", "rule", "programme", "manual")
EVERY = ("daily", "weekly", "monthly", "quarterly", "tier_matrix", "programme")
CHANNELS = (
    "phone",
    "sms",
    "wechat",
    "wecom",
    "app",
    "voice",
    "email",
    "home_visit",
    "clinic",
    "video",
    "letter",
)
ROLES = ("nurse", "health_manager", "doctor", "coordinator", "supervisor")
FORMS = ("", "care_guide", "symptom_check", "wound", "htn", "dm", "satisfaction")
PROGRAMMES = ("htn", "dm")
GRADES = ("L", "H", "LL", "HH", "A")
TIERS = ("high", "medium", "low")
RULE_KEYS = ("age_min", "age_max", "literacy", "risk", "value", "lives_alone")
SCRIPT_PARTS = ("opening", "questions", "advice", "revisit", "closing")
MAX_OCCURRENCES = 400


class DefinitionError(CheckError):
    """A pathway definition that cannot be used (``path``: ``message``, in the reader's
    language)."""


@dataclass(frozen=True)
class TriggerSpec:
    kind: str
    icd10: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    within_days: int = 7
    min_age: int | None = None
    any_result: bool = False  # abnormal: also results entered by hand or without a report


@dataclass(frozen=True)
class Profile:
    """What channel rules look at (from the patient)."""

    age: int | None
    literacy: str
    risk: str
    value: str
    lives_alone: bool


@dataclass(frozen=True)
class ChannelRule:
    channels: tuple[str, ...]
    age_min: int | None = None
    age_max: int | None = None
    literacy: tuple[str, ...] = ()
    risk: tuple[str, ...] = ()
    value: tuple[str, ...] = ()
    lives_alone: bool | None = None

    def matches(self, who: Profile) -> bool:
        if self.age_min is not None and (who.age is None or who.age < self.age_min):
            return False
        if self.age_max is not None and (who.age is None or who.age > self.age_max):
            return False
        if self.lives_alone is not None and who.lives_alone != self.lives_alone:
            return False
        return (
            (not self.literacy or who.literacy in self.literacy)
            and (not self.risk or who.risk in self.risk)
            and (not self.value or who.value in self.value)
        )


@dataclass(frozen=True)
class Node:
    key: str
    title: str
    purpose: str
    day: int = 0
    every: str = ""
    interval: int = 1
    count: int | None = None
    for_days: int | None = None
    until: date | None = None
    window: tuple[time, time] = (time(9), time(17))
    grace_days: int = 0
    channels: tuple[str, ...] = ("phone",)
    channel_rules: tuple[ChannelRule, ...] = ()
    role: str = "nurse"
    form: str = ""
    questionnaire: str = ""
    programme: str = ""
    skip_holidays: bool = True
    script: Mapping[str, str] = field(default_factory=dict)

    def channels_for(self, who: Profile) -> tuple[str, ...]:
        """The channel order for this patient: the first matching rule's, else the node's."""
        for rule in self.channel_rules:
            if rule.matches(who):
                return rule.channels
        return self.channels


@dataclass(frozen=True)
class Definition:
    trigger: TriggerSpec
    nodes: tuple[Node, ...]

    def node(self, key: str) -> Node | None:
        return next((n for n in self.nodes if n.key == key), None)


def _int(data: Mapping[str, Any], key: str, path: str, low: int, high: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DefinitionError(
            f"{path}.{key}",
            gettext_noop("must be a whole number from %(low)s to %(high)s"),
            low=low,
            high=high,
        )
    return value


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


def _choice(data: Mapping[str, Any], key: str, path: str, allowed: Any, default: str) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise DefinitionError(
            f"{path}.{key}",
            gettext_noop("must be one of %(choices)s"),
            choices=tuple(a for a in allowed if a),
        )
    return str(value)


def _strings(data: Mapping[str, Any], key: str, path: str, allowed: Any = None) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DefinitionError(f"{path}.{key}", gettext_noop("must be a list of texts"))
    if allowed is not None:
        for i, item in enumerate(value):
            if item not in allowed:
                raise DefinitionError(
                    f"{path}.{key}[{i}]",
                    gettext_noop("must be one of %(choices)s"),
                    choices=tuple(allowed),
                )
    return tuple(v.strip() for v in value)


def _time(text: Any, path: str) -> time:
    try:
        hours, minutes = str(text).split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise DefinitionError(path, gettext_noop("must be a time as HH:MM")) from exc


def _trigger(data: Any) -> TriggerSpec:
    if not isinstance(data, Mapping):
        raise DefinitionError("trigger", gettext_noop("must be a JSON object"))
    kind = _choice(data, "kind", "trigger", TRIGGERS, "")
    icd10 = tuple(c.upper() for c in _strings(data, "icd10", "trigger"))
    if kind == "diagnosis" and not icd10:
        raise DefinitionError(
            "trigger.icd10", gettext_noop("a new-diagnosis trigger must list ICD-10 code prefixes")
        )
    grades = _strings(data, "grades", "trigger", GRADES)
    if kind == "abnormal" and not grades:
        grades = ("L", "H", "LL", "HH", "A")
    return TriggerSpec(
        kind=kind,
        icd10=icd10,
        codes=_strings(data, "codes", "trigger"),
        grades=grades,
        within_days=_int(data, "within_days", "trigger", 1, 365) or 7,
        min_age=_int(data, "min_age", "trigger", 0, 130),
        any_result=_flag(data, "any_result", "trigger"),
    )


def _flag(data: Mapping[str, Any], key: str, path: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise DefinitionError(f"{path}.{key}", gettext_noop("must be true or false"))
    return value


def _script(data: Any, path: str) -> dict[str, str]:
    if data in (None, ""):
        return {}
    if not isinstance(data, Mapping):
        raise DefinitionError(
            path, gettext_noop("must be an object with opening/questions/advice/revisit/closing")
        )
    unknown = sorted(set(data) - set(SCRIPT_PARTS))
    if unknown:
        raise DefinitionError(
            f"{path}.{unknown[0]}",
            gettext_noop("unknown script part (available: %(parts)s)"),
            parts=" ".join(SCRIPT_PARTS),
        )
    return {part: _text(data, part, path, 2000, required=False) for part in SCRIPT_PARTS}


def _channel_rules(data: Any, path: str) -> tuple[ChannelRule, ...]:
    if data in (None, []):
        return ()
    if not isinstance(data, list):
        raise DefinitionError(path, gettext_noop("must be a list of rules"))
    rules = []
    for i, item in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise DefinitionError(where, gettext_noop("must be an object with when and channels"))
        when = item.get("when", {})
        if not isinstance(when, Mapping) or not when:
            raise DefinitionError(f"{where}.when", gettext_noop("must be a non-empty object"))
        unknown = sorted(set(when) - set(RULE_KEYS))
        if unknown:
            raise DefinitionError(
                f"{where}.when.{unknown[0]}",
                gettext_noop("unknown condition (available: %(keys)s)"),
                keys=" ".join(RULE_KEYS),
            )
        channels = _strings(item, "channels", where, CHANNELS)
        if not channels:
            raise DefinitionError(f"{where}.channels", gettext_noop("list at least one channel"))
        alone = when.get("lives_alone")
        rules.append(
            ChannelRule(
                channels=channels,
                age_min=_int(when, "age_min", f"{where}.when", 0, 130),
                age_max=_int(when, "age_max", f"{where}.when", 0, 130),
                literacy=_strings(when, "literacy", f"{where}.when", TIERS),
                risk=_strings(when, "risk", f"{where}.when", TIERS),
                value=_strings(when, "value", f"{where}.when", TIERS),
                lives_alone=_flag(when, "lives_alone", f"{where}.when")
                if alone is not None
                else None,
            )
        )
    return tuple(rules)


def _node(data: Any, path: str, default_rules: tuple[ChannelRule, ...] = ()) -> Node:
    if not isinstance(data, Mapping):
        raise DefinitionError(path, gettext_noop("must be a JSON object"))
    every = _choice(data, "every", path, ("", *EVERY), "")
    count = _int(data, "count", path, 1, MAX_OCCURRENCES)
    for_days = _int(data, "for_days", path, 1, 3660)
    until = None
    if data.get("until") is not None:
        try:
            until = date.fromisoformat(str(data["until"]))
        except ValueError as exc:
            raise DefinitionError(
                f"{path}.until", gettext_noop("must be a date as YYYY-MM-DD")
            ) from exc
    if every in ("daily", "weekly", "monthly", "quarterly") and not (count or for_days or until):
        raise DefinitionError(
            f"{path}.count",
            gettext_noop("a repeating node needs a count (count) or an end (for_days, until)"),
        )
    window = data.get("window", ["09:00", "17:00"])
    if not isinstance(window, list) or len(window) != 2:
        raise DefinitionError(f"{path}.window", gettext_noop("must be two times, [start, end]"))
    start, end = _time(window[0], f"{path}.window[0]"), _time(window[1], f"{path}.window[1]")
    if end <= start:
        raise DefinitionError(
            f"{path}.window", gettext_noop("the end must be later than the start")
        )
    channels = _strings(data, "channels", path, CHANNELS) or ("phone",)
    programme = _choice(data, "programme", path, ("", *PROGRAMMES), "")
    if every == "programme" and not programme:
        raise DefinitionError(
            f"{path}.programme",
            gettext_noop("a chronic-programme node must name its programme (htn or dm)"),
        )
    skip = data.get("skip_holidays", True)
    if not isinstance(skip, bool):
        raise DefinitionError(f"{path}.skip_holidays", gettext_noop("must be true or false"))
    key = _text(data, "key", path, 40)
    if not key.replace("_", "").replace("-", "").isalnum():
        raise DefinitionError(
            f"{path}.key", gettext_noop("may contain only letters, digits, - and _")
        )
    return Node(
        key=key,
        title=_text(data, "title", path, 200),
        purpose=_choice(data, "purpose", path, PURPOSES, ""),
        day=_int(data, "day", path, 0, 3660) or 0,
        every=every,
        interval=_int(data, "interval", path, 1, 52) or 1,
        count=count,
        for_days=for_days,
        until=until,
        window=(start, end),
        grace_days=_int(data, "grace_days", path, 0, 365) or 0,
        channels=channels,
        channel_rules=_channel_rules(data.get("channel_rules"), f"{path}.channel_rules")
        if "channel_rules" in data
        else default_rules,
        role=_choice(data, "role", path, ROLES, "nurse"),
        form=_choice(
            data,
            "form",
            path,
            FORMS,
            "htn" if programme == "htn" else "dm" if programme == "dm" else "",
        ),
        questionnaire=_text(data, "questionnaire", path, 60, required=False),
        programme=programme,
        skip_holidays=skip,
        script=_script(data.get("script"), f"{path}.script"),
    )


def compile_definition(data: Any) -> Definition:
    """Check a pathway definition; ``DefinitionError`` says what is wrong and where."""
    if not isinstance(data, Mapping):
        raise DefinitionError("definition", gettext_noop("must be a JSON object"))
    trigger = _trigger(data.get("trigger"))
    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, list) or not nodes_data:
        raise DefinitionError("nodes", gettext_noop("must be a non-empty list"))
    rules = _channel_rules(data.get("channel_rules"), "channel_rules")
    nodes = tuple(_node(item, f"nodes[{i}]", rules) for i, item in enumerate(nodes_data))
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        if node.key in seen:
            raise DefinitionError(
                f"nodes[{i}].key", gettext_noop("node %(key)s appears twice"), key=repr(node.key)
            )
        seen.add(node.key)
    return Definition(trigger, nodes)

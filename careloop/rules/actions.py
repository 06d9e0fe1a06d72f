"""Rule actions as JSON, checked like conditions (``RuleError`` names the part):

{"type": "tag", "tag": "血压持续升高"}            {"type": "untag", "tag": "…"}
{"type": "risk_tier", "value": "high"}            {"type": "value_tier", "value": "low"}
{"type": "alert", "severity": "high", "title": "…",
 "assignee": "responsible_doctor" | "health_manager" | "none", "due_hours": 24}
{"type": "enrol", "pathway": "post-op"}           (a pathway's code)
{"type": "task", "title": "电话了解血糖情况", "role": "nurse" | "doctor" |
 "health_manager", "channel": "phone", "purpose": "condition_tracking", "due_hours": 24}

{"type": "notify", "title": "…", "to": "responsible_doctor" | "health_manager"}
                                                  (a staff notification: in CareLoop, and on
                                                  WeCom when set up; no patient details there)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from careloop.rules.conditions import TIER_TEXT, TIERS, RuleError
from careloop.said import gettext_noop

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_TEXT = {"critical": "危急", "high": "高", "medium": "中", "low": "低"}
ASSIGNEES = ("responsible_doctor", "health_manager", "none")
NOT_YET: dict[str, str] = {}
NOTIFY_TO = ("responsible_doctor", "health_manager")
ROLES = ("nurse", "doctor", "health_manager")
PURPOSES = (
    "condition_tracking",
    "rehab_guidance",
    "revisit_reminder",
    "emotional_care",
    "satisfaction",
)
TASK_CHANNELS = ("phone", "sms", "wechat", "app", "voice", "clinic", "video")


@dataclass(frozen=True)
class AddTag:
    tag: str

    def describe(self) -> str:
        return f"加标签“{self.tag}”"


@dataclass(frozen=True)
class RemoveTag:
    tag: str

    def describe(self) -> str:
        return f"去掉标签“{self.tag}”"


@dataclass(frozen=True)
class SetTier:
    field: str  # risk_tier / value_tier
    value: str

    def describe(self) -> str:
        kind = "风险分层" if self.field == "risk_tier" else "价值分层"
        return f"{kind}设为{TIER_TEXT[self.value]}"


@dataclass(frozen=True)
class RaiseAlert:
    severity: str
    title: str
    assignee: str = "responsible_doctor"
    due_hours: int | None = None

    def describe(self) -> str:
        return f"发出{SEVERITY_TEXT[self.severity]}级预警“{self.title}”"


@dataclass(frozen=True)
class Enrol:
    pathway: str  # code

    def describe(self) -> str:
        return f"纳入随访路径“{self.pathway}”"


@dataclass(frozen=True)
class CreateTask:
    title: str
    role: str = "nurse"
    channel: str = "phone"
    purpose: str = "condition_tracking"
    due_hours: int = 24

    def describe(self) -> str:
        return f"创建随访任务“{self.title}”"


@dataclass(frozen=True)
class Notify:
    title: str
    to: str = "responsible_doctor"

    def describe(self) -> str:
        whom = "责任医生" if self.to == "responsible_doctor" else "健康管理师"
        return f"通知{whom}“{self.title}”"


Action = AddTag | RemoveTag | SetTier | RaiseAlert | Enrol | CreateTask | Notify


def _text(data: Mapping[str, Any], key: str, path: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{path}.{key}", gettext_noop("must not be empty"))
    if len(value.strip()) > limit:
        raise RuleError(f"{path}.{key}", gettext_noop("at most %(limit)s characters"), limit=limit)
    return value.strip()


def _compile_one(data: Any, path: str) -> Action:
    if not isinstance(data, Mapping):
        raise RuleError(path, gettext_noop("must be a JSON object"))
    kind = data.get("type")
    if not isinstance(kind, str):
        raise RuleError(
            f"{path}.type",
            gettext_noop("must be a text (tag, untag, risk_tier, value_tier, alert, enrol, task)"),
        )
    if kind in ("tag", "untag"):
        tag = _text(data, "tag", path, 50)
        return AddTag(tag) if kind == "tag" else RemoveTag(tag)
    if kind in ("risk_tier", "value_tier"):
        if data.get("value") not in TIERS:
            raise RuleError(f"{path}.value", gettext_noop("must be high, medium or low"))
        return SetTier(str(kind), str(data["value"]))
    if kind == "alert":
        if data.get("severity") not in SEVERITIES:
            raise RuleError(
                f"{path}.severity", gettext_noop("must be one of %(choices)s"), choices=SEVERITIES
            )
        assignee = data.get("assignee", "responsible_doctor")
        if assignee not in ASSIGNEES:
            raise RuleError(
                f"{path}.assignee", gettext_noop("must be one of %(choices)s"), choices=ASSIGNEES
            )
        due = data.get("due_hours")
        if due is not None and (isinstance(due, bool) or not isinstance(due, int) or due < 1):
            raise RuleError(
                f"{path}.due_hours", gettext_noop("must be a positive whole number (hours)")
            )
        return RaiseAlert(str(data["severity"]), _text(data, "title", path, 200), assignee, due)
    if kind == "enrol":
        return Enrol(_text(data, "pathway", path, 60))
    if kind == "task":
        return _task(data, path)
    if kind == "notify":
        to = data.get("to", "responsible_doctor")
        if to not in NOTIFY_TO:
            raise RuleError(
                f"{path}.to", gettext_noop("must be one of %(choices)s"), choices=NOTIFY_TO
            )
        return Notify(_text(data, "title", path, 200), str(to))
    if kind in NOT_YET:
        raise RuleError(
            f"{path}.type",
            gettext_noop(
                "“%(name)s” (%(kind)s) is not supported in this version: what it needs is not "
                "available yet"
            ),
            name=NOT_YET[kind],
            kind=kind,
        )
    raise RuleError(
        f"{path}.type",
        gettext_noop(
            "unknown action %(kind)s (available: tag untag risk_tier value_tier alert enrol task "
            "notify)"
        ),
        kind=repr(kind),
    )


def _task(data: Mapping[str, Any], path: str) -> CreateTask:
    choices = {"role": ROLES, "channel": TASK_CHANNELS, "purpose": PURPOSES}
    values = {}
    for key, allowed in choices.items():
        value = data.get(key, CreateTask.__dataclass_fields__[key].default)
        if value not in allowed:
            raise RuleError(
                f"{path}.{key}", gettext_noop("must be one of %(choices)s"), choices=tuple(allowed)
            )
        values[key] = str(value)
    due = data.get("due_hours", 24)
    if isinstance(due, bool) or not isinstance(due, int) or not 1 <= due <= 24 * 30:
        raise RuleError(
            f"{path}.due_hours", gettext_noop("must be a whole number from 1 to 720 (hours)")
        )
    return CreateTask(_text(data, "title", path, 200), due_hours=due, **values)


def compile_actions(data: Any, path: str = "actions") -> list[Action]:
    if not isinstance(data, list) or not data:
        raise RuleError(path, gettext_noop("must be a non-empty list"))
    actions = [_compile_one(item, f"{path}[{i}]") for i, item in enumerate(data)]
    alerts = [i for i, action in enumerate(actions) if isinstance(action, RaiseAlert)]
    if len(alerts) > 1:  # a firing points at one alert
        raise RuleError(f"{path}[{alerts[1]}]", gettext_noop("a rule can raise only one alert"))
    return actions

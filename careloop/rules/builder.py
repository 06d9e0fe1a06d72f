"""What the rule builder in the browser offers: every condition kind and action type with its
fields (type, label, choices, default), the catalogue's codes and the pathways. The builder
writes the same JSON the rule language checks (``conditions``, ``actions``); the server
still checks what is posted and names any mistake, so this spec only has to offer, not
enforce. A test compiles every kind and action as the builder first makes it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from careloop.clinical import catalogue
from careloop.outreach.symptom_words import CANONICAL
from careloop.rules.actions import (
    ASSIGNEES,
    NOTIFY_TO,
    PURPOSES,
    ROLES,
    SEVERITIES,
    TASK_CHANNELS,
)
from careloop.rules.assessments import LABELS as MODEL_LABELS
from careloop.rules.conditions import KINDS, LITERACY, OP_TEXT, OUTCOMES, TIERS

Field = dict[str, Any]


def _f(key: str, kind: str, label: str, default: Any = None, **more: Any) -> Field:
    return {"key": key, "type": kind, "label": label, "default": default, **more}


def _choices(values: tuple[str, ...] | list[str], texts: dict[str, str]) -> list[list[str]]:
    return [[v, texts.get(v, v)] for v in values]


def _tiers() -> list[list[str]]:
    """Risk and value tiers, stored as high/medium/low (``TIER_TEXT`` explains firings)."""
    return _choices(TIERS, {"high": _("high"), "medium": _("medium"), "low": _("low")})


def _severities() -> list[list[str]]:
    texts = {"critical": _("critical"), "high": _("high"), "medium": _("medium"), "low": _("low")}
    return _choices(SEVERITIES, texts)


def _symptoms() -> list[list[str]]:
    """The detector's symptoms, stored as their Chinese names, shown in the page's language."""
    from careloop.followup.forms import LABELS

    return [[s, str(LABELS[s]) if s in LABELS else s] for s in CANONICAL]


def _outcomes() -> list[list[str]]:
    from careloop.followup.models import Outcome

    return [[o, str(Outcome(o).label) if o in Outcome.values else o] for o in OUTCOMES]


def condition_kinds() -> dict[str, dict[str, Any]]:
    """Kind → its label and fields, in ``KINDS`` order."""
    code = _f("code", "codes", _("Item (LOINC code)"), "8480-6")
    op = _f("op", "op", _("Comparison"), ">=")
    value = _f("value", "number", _("Value (in the catalogue's unit)"), 140)
    within = _f("within_days", "int", _("Newest reading within (days)"), None, optional=True)
    count = _f("count", "int", _("Readings"), 3)
    tiers = _tiers()
    spec = {
        "latest": (_("Latest value"), [code, op, value, within]),
        "consecutive": (_("N consecutive readings"), [code, count, op, value, within]),
        "trend": (
            _("Trend over N readings"),
            [
                code,
                count,
                _f(
                    "direction",
                    "choice",
                    _("Direction"),
                    "rising",
                    choices=[["rising", _("rising")], ["falling", _("falling")]],
                ),
                within,
            ],
        ),
        "time_window": (
            _("Value at a time of day"),
            [
                {**code, "default": "14749-6"},
                {**op, "default": "<"},
                {**value, "default": 4.0},
                _f("from", "clock", _("From (local time)"), "22:00"),
                _f("to", "clock", _("To (local time)"), "06:00"),
                _f(
                    "within_days",
                    "int",
                    _("Readings of the last (days, default 1)"),
                    None,
                    optional=True,
                ),
            ],
        ),
        "no_reading": (
            _("No reading for N days"),
            [{**code, "default": "14749-6"}, _f("days", "int", _("Days"), 3)],
        ),
        "change": (
            _("Change against the previous value"),
            [
                code,
                op,
                {**value, "default": 20},
                _f("percent", "bool", _("In percent"), False),
                within,
            ],
        ),
        "tag": (_("Tag present"), [_f("tag", "text", _("Tag"), "")]),
        "age": (_("Age"), [op, _f("value", "int", _("Years"), 65)]),
        "sex": (
            _("Sex"),
            [
                _f(
                    "value",
                    "choice",
                    _("Sex"),
                    "female",
                    choices=[["male", _("male")], ["female", _("female")]],
                )
            ],
        ),
        "risk_tier": (
            _("Risk tier"),
            [_f("value", "choice", _("Tier"), "high", choices=tiers)],
        ),
        "risk": (
            _("Risk assessment result"),
            [
                _f(
                    "model",
                    "choice",
                    _("Model"),
                    "bp-grade",
                    choices=_choices(
                        list(MODEL_LABELS), {k: str(v) for k, v in MODEL_LABELS.items()}
                    ),
                ),
                _f("category", "text", _("Category (as shown on the patient page)"), "3级高血压"),
            ],
        ),
        "diagnosis": (
            _("Diagnosis (ICD-10 prefix)"),
            [_f("prefix", "list", _("ICD-10 prefixes, comma separated"), "I50")],
        ),
        "new_diagnosis": (
            _("New diagnosis (first made within N days)"),
            [
                _f("prefix", "list", _("ICD-10 prefixes, comma separated"), "I10"),
                _f("days", "int", _("Within days"), 90),
            ],
        ),
        "procedure": (
            _("Procedure done within N days"),
            [
                _f("days", "int", _("Within days"), 30),
                _f(
                    "prefix",
                    "list",
                    _("Procedure code prefixes (ICD-9-CM-3), comma separated"),
                    None,
                    optional=True,
                ),
                _f("surgery", "bool", _("Operations only"), True),
            ],
        ),
        "discharged": (
            _("Discharged within N days"),
            [_f("days", "int", _("Days"), 7)],
        ),
        "answer": (
            _("Questionnaire answer"),
            [
                _f("questionnaire", "text", _("Questionnaire code"), "phq9"),
                _f("item", "text", _("Question key"), "q9"),
                op,
                _f("value", "answer", _("Answer (number or text)"), 1),
            ],
        ),
        "symptom": (
            _("Symptom in a reply"),
            [
                _f(
                    "symptom",
                    "choice",
                    _("Symptom"),
                    CANONICAL[0],
                    choices=_symptoms(),
                )
            ],
        ),
        "outcome": (
            _("Follow-up outcome"),
            [
                _f(
                    "outcomes",
                    "multi",
                    _("Outcomes"),
                    ["no_answer"],
                    choices=_outcomes(),
                )
            ],
        ),
        "lives_alone": (_("Lives alone"), []),
        "digital_literacy": (
            _("Digital literacy"),
            [
                _f(
                    "value",
                    "choice",
                    _("Level"),
                    "low",
                    choices=_choices(
                        LITERACY, {"high": _("high"), "medium": _("medium"), "low": _("low")}
                    ),
                )
            ],
        ),
        "not_reached": (
            _("Follow-ups not reached"),
            [_f("count", "int", _("At least"), 1), _f("days", "int", _("Within days"), 365)],
        ),
        "lost_risk": (
            _("Lost-to-follow-up risk"),
            [_f("at_least", "number", _("At least (0–1)"), 0.5)],
        ),
    }
    return {kind: {"label": spec[kind][0], "fields": spec[kind][1]} for kind in KINDS}


def action_types(pathways: list[list[str]]) -> dict[str, dict[str, Any]]:
    """Action type → its label and fields."""
    tiers = _tiers()
    assignees = {
        "responsible_doctor": _("the responsible doctor"),
        "health_manager": _("the health manager"),
        "none": _("nobody (the team's list)"),
    }
    roles = {"nurse": _("nurse"), "doctor": _("doctor"), "health_manager": _("health manager")}
    title = _f("title", "text", _("Title"), "")
    return {
        "tag": {"label": _("Add a tag"), "fields": [_f("tag", "text", _("Tag"), "")]},
        "untag": {"label": _("Remove a tag"), "fields": [_f("tag", "text", _("Tag"), "")]},
        "risk_tier": {
            "label": _("Set the risk tier"),
            "fields": [_f("value", "choice", _("Tier"), "high", choices=tiers)],
        },
        "value_tier": {
            "label": _("Set the value tier"),
            "fields": [_f("value", "choice", _("Tier"), "high", choices=tiers)],
        },
        "alert": {
            "label": _("Raise an alert"),
            "fields": [
                _f(
                    "severity",
                    "choice",
                    _("Severity"),
                    "high",
                    choices=_severities(),
                ),
                title,
                _f(
                    "assignee",
                    "choice",
                    _("Assigned to"),
                    "responsible_doctor",
                    choices=_choices(ASSIGNEES, assignees),
                ),
                _f("due_hours", "int", _("Deadline (hours)"), None, optional=True),
            ],
        },
        "enrol": {
            "label": _("Enrol in a pathway"),
            "fields": [
                _f(
                    "pathway",
                    "choice",
                    _("Pathway"),
                    pathways[0][0] if pathways else "",
                    choices=pathways,
                )
            ],
        },
        "task": {
            "label": _("Create a follow-up task"),
            "fields": [
                title,
                _f("role", "choice", _("For the role"), "nurse", choices=_choices(ROLES, roles)),
                _f(
                    "channel",
                    "choice",
                    _("Channel"),
                    "phone",
                    choices=[[c, c] for c in TASK_CHANNELS],
                ),
                _f(
                    "purpose",
                    "choice",
                    _("Purpose"),
                    PURPOSES[0],
                    choices=[[p, p] for p in PURPOSES],
                ),
                _f("due_hours", "int", _("Deadline (hours)"), 24),
            ],
        },
        "notify": {
            "label": _("Notify staff"),
            "fields": [
                title,
                _f(
                    "to",
                    "choice",
                    pgettext("notify", "To"),  # whom; the plain "To" ends a period (截止)
                    "responsible_doctor",
                    choices=_choices(NOTIFY_TO, assignees),
                ),
            ],
        },
    }


def code_options(items: dict[str, Any]) -> list[list[str]]:
    """The codes offered for an item: one item sent under several codes (空腹血糖 as 14771-0
    in mmol/L or 1558-6 in mg/dL, both stored in mmol/L) first as all of them together, so a
    rule reads it whichever code the laboratory sends; then each code alone."""
    by_item: dict[tuple[str, str], list[str]] = {}
    for code, item in sorted(items.items()):
        by_item.setdefault((item.name, item.unit), []).append(code)
    together = [
        [", ".join(codes), str(_("%(item)s (all %(n)s codes)") % {"item": name, "n": len(codes)})]
        for (name, _unit), codes in sorted(by_item.items())
        if len(codes) > 1
    ]
    return together + [[code, item.name] for code, item in sorted(items.items())]


def builder_spec(user: Any = None) -> dict[str, Any]:
    """Everything the page's builder needs, as one JSON object (``json_script``); the
    pathways offered to enrol in are those ``user`` sees (every organisation's, theirs, those
    above and below them), not another organisation's."""
    from careloop.accounts.ownership import seen_by
    from careloop.followup.models import Pathway

    rows = Pathway.objects.all() if user is None else Pathway.objects.filter(seen_by(user))
    pathways = [[c, f"{n} ({c})"] for c, n in rows.order_by("code").values_list("code", "name")]
    items = catalogue.current().items
    return {
        "kinds": condition_kinds(),
        "actions": action_types(pathways),
        "ops": [[op, text] for op, text in OP_TEXT.items()],
        "codes": code_options(items),
        "labels": {
            "all": _("all of these hold"),
            "any": _("any of these holds"),
            "not": _("does NOT hold:"),
            "negate": _("Negate"),
            "un_negate": _("Remove the negation"),
            "add_condition": _("+ Condition"),
            "add_group": _("+ Group"),
            "add_action": _("+ Action"),
            "remove": _("Remove"),
            "kind": _("Condition"),
            "type": _("Action"),
            "when": _("The rule matches when"),
            "unreadable": _(
                "The JSON below cannot be shown in the builder (%(error)s). Correct it there; "
                "the builder comes back when it can read it."
            ),
        },
    }

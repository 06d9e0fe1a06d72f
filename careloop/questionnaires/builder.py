"""What the questionnaire builder page (static/careloop/questionnaire-builder.js) needs from
the server: the words it shows, translated, and the form a new questionnaire's code takes."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from careloop.questionnaires.definition import CONDITIONS, SEVERITIES, TYPES

CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def builder_labels() -> dict[str, object]:
    return {
        "types": {
            "choice": _("Single choice"),
            "multi": _("Multiple choice"),
            "number": _("Number with unit"),
            "text": _("Text"),
            "date": _("Date"),
            "scale": _("0–10 scale"),
            "matrix": _("Matrix"),
        },
        "ops": {
            "equals": _("is"),
            "not_equals": _("is not"),
            "in": _("is one of (comma separated)"),
            "gt": _("is greater than"),
            "lt": _("is less than"),
        },
        "severities": {
            "low": _("low"),
            "medium": _("medium"),
            "high": _("high"),
            "critical": _("critical"),
        },
        "type_order": list(TYPES),
        "op_order": list(CONDITIONS),
        "severity_order": list(SEVERITIES),
        "code": _("Code"),
        "title": _("Title"),
        "intro": _("Introduction"),
        "item": _("Question"),
        "key": _("Key"),
        "type": _("Type"),
        "text": _("Question text"),
        "required": _("Required"),
        "unit": _("Unit"),
        "min": _("Minimum"),
        "max": _("Maximum"),
        "min_label": _("Label at the minimum"),
        "max_label": _("Label at the maximum"),
        "max_length": _("Longest answer"),
        "options": _("Options"),
        "value": _("Value"),
        "label": _("Label"),
        "score": _("Score"),
        "rows": _("Rows"),
        "row_text": _("Row text"),
        "add_item": _("Add a question"),
        "add_option": _("Add an option"),
        "add_row": _("Add a row"),
        "add_band": _("Add a band"),
        "add_flag": _("Add a flag"),
        "up": _("Move up"),
        "down": _("Move down"),
        "remove": _("Remove"),
        "ask_when": _("Ask only when"),
        "always": _("(always asked)"),
        "scored": _("Counts toward the total"),
        "scoring": _("Scoring bands"),
        "flags": _("Flags that raise an alert"),
        "flag_on": _("Raised on"),
        "condition": _("Condition"),
        "total": _("the total is at least"),
        "severity": _("Severity"),
        "symptom": _("Symptom (optional)"),
        "alert_title": _("Alert title"),
        "nps": _("Net promoter question"),
        "none": _("(none)"),
        "bad_json": _("The JSON cannot be read; fix it or switch back to the builder."),
    }

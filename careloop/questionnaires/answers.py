"""Reading a submitted HTML form into raw answers for ``definition.evaluate`` (the same
names the template gives: the item's key; a matrix row ``key.row``; several values for
``multi``)."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict

from careloop.questionnaires.definition import Definition


def from_post(definition: Definition, data: QueryDict) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for item in definition.items:
        if item.type == "multi":
            raw[item.key] = data.getlist(item.key)
        elif item.type == "matrix":
            rows = {row: data.get(f"{item.key}.{row}", "") for row, _text in item.rows}
            raw[item.key] = {k: v for k, v in rows.items() if v} or None
        else:
            raw[item.key] = data.get(item.key, "").strip()
    return raw


def shown_items(
    definition: Definition, given: dict[str, Any], errors: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """What a template needs for each item: its options marked chosen, the matrix rows with
    their choice, the value given, the error, and its skip-logic condition for the page's
    script (``data-when``)."""
    errors = errors or {}
    shown = []
    for item in definition.items:
        value = given.get(item.key)
        chosen = value if isinstance(value, list) else [value]
        matrix = value if isinstance(value, dict) else {}
        when = item.enable_when
        shown.append(
            {
                "item": item,
                "value": "" if value is None or isinstance(value, list | dict) else value,
                "error": errors.get(item.key, ""),
                "options": [
                    {"value": o.value, "label": o.label, "checked": o.value in map(str, chosen)}
                    for o in item.options
                ],
                "scale": [
                    {"value": n, "checked": str(n) == str(value)}
                    for n in range(int(item.min or 0), int(item.max or 10) + 1)
                ]
                if item.type == "scale"
                else [],
                "rows": [
                    {
                        "key": row,
                        "text": text,
                        "options": [
                            {
                                "value": o.value,
                                "label": o.label,
                                "checked": matrix.get(row) == o.value,
                            }
                            for o in item.options
                        ],
                    }
                    for row, text in item.rows
                ],
                "when": (
                    json.dumps(
                        {"item": when.item, "op": when.op, "value": when.value}, ensure_ascii=False
                    )
                    if when
                    else ""
                ),
            }
        )
    return shown

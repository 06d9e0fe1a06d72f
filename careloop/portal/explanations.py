"""What an abnormal result means, in plain words for the patient (``data/explanations.json``):
by LOINC code and direction; a general sentence for items without their own."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "explanations.json"


@cache
def _table() -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    table = {
        (code, direction): entry[direction]
        for entry in data["items"]
        for code in entry["codes"]
        for direction in ("H", "L")
        if direction in entry
    }
    return table, data["default"]


def explain(code: str, interpretation: str) -> str:
    """ "" for a normal or ungraded result."""
    if interpretation not in ("H", "HH", "L", "LL"):
        return ""
    direction = interpretation[0]
    table, default = _table()
    return table.get((code, direction), default[direction])

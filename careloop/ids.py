"""Row ids from what people and programs type (query strings, form fields, references)."""

from __future__ import annotations

from typing import Any

# Above this, an id cannot be a row's (a 64-bit integer has 19 digits): SQLite refuses the
# number outright ("too large to convert"), so it must never reach a query.
MAX_DIGITS = 18


def row_id(value: object) -> int | None:
    """``value`` as a row id when it is one written in ASCII digits, else None ("12" → 12;
    "", "abc", "²", "-1" and a 30-digit number → None)."""
    text = str(value).strip() if value is not None else ""
    if text.isascii() and text.isdecimal() and len(text) <= MAX_DIGITS:
        return int(text)
    return None


def latest_id(rows: Any) -> int:
    """The id of the newest of ``rows`` (a queryset), 0 when there is none: what a page shows
    it has seen, so that the same form sent twice is told from a new one."""
    found = rows.order_by("-pk").values_list("pk")[:1]
    return found[0][0] if found else 0

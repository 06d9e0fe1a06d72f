"""Whether a code sent as LOINC can be one: digits, a hyphen and the mod-10 check digit
LOINC gives every code (the Luhn scheme: from the right, every other digit doubled). A
mistyped code fails it, and is refused by name instead of being stored as an item nobody
can grade."""

from __future__ import annotations

import re
from functools import lru_cache

_SHAPE = re.compile(r"(\d{1,7})-(\d)")


def check_digit(number: str) -> int:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10


def looks_like_loinc(code: str) -> bool:
    """Written as a LOINC code is (a local code such as "GLU" is not)."""
    return _SHAPE.fullmatch(code.strip()) is not None


@lru_cache(maxsize=4096)
def loinc_problem(code: str) -> str:
    """Why ``code`` is not a LOINC code, or "" when it can be one."""
    shape = _SHAPE.fullmatch(code.strip())
    if shape is None:
        return f"{code!r} is not a LOINC code (digits, a hyphen and a check digit, as 2345-7)"
    expected = check_digit(shape[1])
    if int(shape[2]) != expected:
        return f"{code!r} is not a LOINC code: its check digit would be {expected}"
    return ""

"""A dashboard figure: its value and the counts it is made of."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Part:
    key: str
    label: str
    count: int


@dataclass
class Figure:
    key: str
    label: str
    value: float | None
    unit: str  # "%" (value is a fraction), "min", "h", "¥", "" (a plain number)
    parts: list[Part] = field(default_factory=list)
    flagged: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        if self.value is None:
            return "—"
        if self.unit == "%":
            return f"{self.value * 100:.1f}%"
        if self.unit == "¥":
            return f"¥{self.value:.2f}"
        return f"{self.value:.1f}"


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between the nearest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

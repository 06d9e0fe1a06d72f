"""What every clinical model shares: the input error, rounding, band look-up and the result
envelope (inputs, result fields, model version, a plain-Chinese explanation, warnings).

Pure Python, no Django: the models are checked against published tables (REFERENCE.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar


class InputError(ValueError):
    """An input a model cannot use. ``field`` is its name (the JSON key of ``careloop assess``).

    Messages name the field and the accepted values, never the value given: inputs are
    patient data (STYLE.md).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


def round_half_up(value: float, places: int = 0) -> float:
    """Round as a person (and the official China-PAR site) does: 4.95 → 5.0, 24.05 → 24.1.

    Python's ``round`` rounds half to even on the binary value; we round the shortest decimal
    form of the float half up instead.
    """
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def band(value: float, bands: Sequence[tuple[float, Any]]) -> Any:
    """The entry of the last band whose lower bound is ≤ ``value``.

    ``bands`` is in ascending order of lower bound, e.g. ((0, 0), (110, 1), (120, 3)) reads
    "<110 → 0, 110–119 → 1, ≥120 → 3". A value below the first bound takes the first entry.
    """
    chosen = bands[0][1]
    for lower, entry in bands:
        if value >= lower:
            chosen = entry
        else:
            break
    return chosen


def check_number(field: str, value: float, low: float, high: float, unit: str = "") -> None:
    """``low`` ≤ value ≤ ``high`` (both inclusive), finite."""
    if not (math.isfinite(value) and low <= value <= high):
        suffix = f" {unit}" if unit else ""
        raise InputError(field, f"must be between {fmt(low)} and {fmt(high)}{suffix}")


def check_below(field: str, value: float, low: float, below: float, unit: str = "") -> None:
    """``low`` ≤ value < ``below``: for ages in completed years (20–74 means < 75)."""
    if not (math.isfinite(value) and low <= value < below):
        suffix = f" {unit}" if unit else ""
        raise InputError(field, f"must be from {fmt(low)} to under {fmt(below)}{suffix}")


def check_diastolic_below(sbp_field: str, sbp: float, dbp_field: str, dbp: float) -> None:
    """A diastolic pressure at or above the systolic is a reading mistyped or swapped."""
    if dbp >= sbp:
        raise InputError(
            dbp_field, f"must be below {sbp_field} ({fmt(dbp)} ≥ {fmt(sbp)}: swapped or mistyped?)"
        )


def require(field: str, value: object, why: str = "") -> None:
    if value is None:
        raise InputError(field, f"is required{why}")


def fmt(value: float) -> str:
    """A number as an explanation shows it: 5.2, 140, 5.44 (no float noise, and no more than
    two decimals: a value converted from another unit, 232 mg/dL of cholesterol, is 6.01
    mmol/L on the patient's report, not 6.0088)."""
    return f"{round(value, 2):g}"


SEX_LABELS = {"male": "男", "female": "女"}


@dataclass(frozen=True, kw_only=True)
class ModelResult:
    """The envelope of every model's result. Subclasses add their result fields.

    ``as_dict()`` is what ``careloop assess`` prints: the result fields at the top level, then
    ``model``, ``version``, ``inputs``, ``explanation`` and ``warnings``.
    """

    MODEL: ClassVar[str]
    VERSION: ClassVar[str]
    _ENVELOPE: ClassVar[frozenset[str]] = frozenset({"inputs", "explanation", "warnings"})

    inputs: Any
    explanation: str
    warnings: tuple[str, ...] = ()

    @property
    def model(self) -> str:
        return self.MODEL

    @property
    def version(self) -> str:
        return self.VERSION

    def outputs(self) -> dict[str, Any]:
        """The result fields only, JSON-ready (tuples become lists)."""
        return {
            name: _plain(getattr(self, name))
            for name in _names(type(self))
            if name not in self._ENVELOPE
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.outputs(),
            "model": self.MODEL,
            "version": self.VERSION,
            "inputs": {  # the fields as they are (dataclasses.asdict deep-copies each value)
                name: _plain(getattr(self.inputs, name)) for name in _names(type(self.inputs))
            },
            "explanation": self.explanation,
            "warnings": list(self.warnings),
        }


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names (``dataclasses.fields`` builds its tuple on every call)."""
    if kind not in _NAMES:
        _NAMES[kind] = tuple(item.name for item in dataclasses.fields(kind))
    return _NAMES[kind]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value

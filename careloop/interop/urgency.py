"""Whether an inbound message carries a result to act on at once: a value at or beyond the
shipped critical thresholds (REFERENCE.md §4.5, in the catalogue's unit or one converted to
it) or flagged critical by its sender (OBX-8 HH, LL or AA). The processor takes such messages
first, with the waiting messages of the same patients (their shard) before them, so a
critical value is not queued behind a backlog of ordinary results (``processing.claim``).

Read without the database: the listener asks, for every message. It only orders the work;
the organisation's own thresholds still decide, at import, whether an alert is raised.
"""

from __future__ import annotations

import functools
import re

from careloop.clinical.assessment import LOINC_SYSTEMS
from careloop.clinical.reference_data import rows
from careloop.clinical.units import UnitError, convert
from careloop.interop.hl7.read import ReadMessage

CRITICAL_FLAGS = frozenset({"HH", "LL", "AA"})
_BOUND = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
# A bound: (is reached at or beyond ``value``, value); "<= 2.8" → (True, 2.8).
Bound = tuple[bool, float]


@functools.cache
def thresholds() -> dict[str, tuple[Bound | None, Bound | None, str]]:
    """LOINC → (low bound, high bound, unit) of the critical values for all patients (a
    newborn's or a haematology patient's own rows are left to the import)."""
    units = {row[0]: row[4] for row in rows("observation_catalogue.tsv")}
    found: dict[str, tuple[Bound | None, Bound | None, str]] = {}
    for row in rows("critical_values.tsv"):
        code, low, high = row[0], row[1], row[2] if len(row) > 2 else ""
        flags = row[3] if len(row) > 3 else ""
        if {"neonate", "haematology"} & set(flags.split(",")):
            continue
        found[code] = (_bound(low), _bound(high), units.get(code, ""))
    return found


def _bound(text: str) -> Bound | None:
    match = _BOUND.match(text)
    return (match[1] in ("<=", ">="), float(match[2])) if match else None


def is_urgent(data: ReadMessage) -> bool:
    limits = thresholds()
    for order in data.orders:
        for result in order.results:
            if CRITICAL_FLAGS & set(result.flags.upper().split("~")):
                return True
            if result.value is None or result.coding_system.upper() not in LOINC_SYSTEMS:
                continue
            found = limits.get(result.code)
            if found is None:
                continue
            low, high, unit = found
            try:
                value = convert(result.code, result.value, result.unit, unit)
            except UnitError:
                continue
            if low and (value <= low[1] if low[0] else value < low[1]):
                return True
            if high and (value >= high[1] if high[0] else value > high[1]):
                return True
    return False

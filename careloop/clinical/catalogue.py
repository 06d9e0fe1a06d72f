"""An in-memory snapshot of the catalogue, reference ranges and critical values, so that
grading thousands of results a second never queries per result. Refreshed every
``TTL`` seconds, so an administrator's change applies within that time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from careloop.clinical.grading import CriticalBounds, Interval

TTL = 30.0


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    unit: str
    category: str
    name_en: str = ""  # the English name, when the catalogue has one


@dataclass(frozen=True)
class RangeRow:
    sex: str
    age_from: int
    age_to: int | None
    interval: Interval


@dataclass
class Catalogue:
    items: dict[str, Item] = field(default_factory=dict)
    ranges: dict[str, list[RangeRow]] = field(default_factory=dict)
    # organisation id (None: defaults) → (code, patient group) → bounds
    critical: dict[int | None, dict[tuple[str, str], CriticalBounds]] = field(default_factory=dict)
    _bounds: dict[tuple[str, str, str], CriticalBounds | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    def item(self, code: str) -> Item | None:
        return self.items.get(code)

    def reference(self, code: str, sex: str, age: int) -> Interval | None:
        for row in self.ranges.get(code, ()):
            if (
                row.sex in ("any", sex)
                and age >= row.age_from
                and (row.age_to is None or age < row.age_to)
            ):
                return row.interval
        return None

    def critical_bounds(
        self, organisation_path: str, code: str, group: str = ""
    ) -> CriticalBounds | None:
        """The threshold for the patient group (newborns) if any is set, else the one for all
        patients: each the organisation's own, else its nearest parent's, else the default."""
        key = (organisation_path, code, group)
        if key not in self._bounds:
            found = self._find_bounds(organisation_path, (code, group)) if group else None
            self._bounds[key] = found or self._find_bounds(organisation_path, (code, ""))
        return self._bounds[key]

    def _find_bounds(self, organisation_path: str, key: tuple[str, str]) -> CriticalBounds | None:
        ids = [int(part) for part in organisation_path.strip("/").split("/") if part]
        for org_id in reversed(ids):
            rules = self.critical.get(org_id)
            if rules and key in rules:
                return rules[key]
        return self.critical.get(None, {}).get(key)


_lock = threading.Lock()
_cache: tuple[float, Catalogue] | None = None


def load() -> Catalogue:
    from careloop.clinical.models import CriticalValueRule, ObservationDefinition, ReferenceRange

    catalogue = Catalogue()
    for code, name, unit, category, name_en in ObservationDefinition.objects.values_list(
        "code", "name", "unit", "category", "name_en"
    ):
        catalogue.items[code] = Item(code, name, unit, category, name_en)
    # More specific rows (one sex, narrower age) first, so they win over "any".
    for row in ReferenceRange.objects.order_by("code", "-sex", "-age_from"):
        catalogue.ranges.setdefault(row.code, []).append(
            RangeRow(row.sex, row.age_from, row.age_to, row.interval())
        )
    for rule in CriticalValueRule.objects.filter(active=True):
        key = (rule.code, rule.patient_group)
        catalogue.critical.setdefault(rule.organisation_id, {})[key] = rule.bounds()
    return catalogue


def current() -> Catalogue:
    global _cache
    with _lock:
        if _cache is None or time.monotonic() - _cache[0] > TTL:
            _cache = (time.monotonic(), load())
        return _cache[1]


def invalidate() -> None:
    global _cache
    with _lock:
        _cache = None

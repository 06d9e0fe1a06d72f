"""Indicator trends (F4): a patient's values of one item across exams and years, the
reference band, abnormal points, and this year's results against earlier years'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone

from careloop.clinical.models import Observation
from careloop.clinical.units import canonical_unit


def _values(patient: Any) -> Any:
    """The patient's results with a number, but those the laboratory withdrew (cancelled:
    OBX-11 X, D or W, FHIR cancelled or entered-in-error), which some send with their value
    still in them: a value nobody stands by is neither drawn nor compared."""
    return Observation.objects.filter(patient=patient, value__isnull=False).exclude(
        status=Observation.Status.CANCELLED
    )


def item_key(observation: Observation) -> str:
    return observation.code or f"local:{observation.local_code}"


def _filter(key: str) -> dict[str, str]:
    if key.startswith("local:"):
        return {"code": "", "local_code": key[len("local:") :]}
    return {"code": key}


@dataclass
class Indicator:
    key: str
    name: str
    count: int
    last: Any


def indicators(patient: Any) -> list[Indicator]:
    """Numeric items the patient has, most measured first."""
    rows = (
        _values(patient)
        .values("code", "local_code")
        .annotate(count=Count("id"), last=Max("effective_at"), name=Max("name"))
        .order_by("-count", "-last")
    )
    return [
        Indicator(
            row["code"] or f"local:{row['local_code']}", row["name"], row["count"], row["last"]
        )
        for row in rows
    ]


def _one_unit(points: list[Observation]) -> tuple[list[Observation], str]:
    """The points one chart can show, and their unit: those converted to the item's unit
    when any was; else those sent in the unit of the latest. A value in a unit that could
    not be converted ("3.2 furlongs") is never drawn on another unit's axis."""
    converted = [o for o in points if o.value_normalised is not None]
    if converted:
        return converted, converted[-1].unit_normalised
    unit = points[-1].unit
    return [o for o in points if canonical_unit(o.unit) == canonical_unit(unit)], unit


def series(patient: Any, key: str) -> dict[str, Any]:
    """Points in the item's normalised unit (or as sent when it has none); ``omitted``:
    how many values in another unit are left out."""
    found = list(_values(patient).filter(**_filter(key)).order_by("effective_at", "id"))
    if not found:
        return {"key": key, "name": "", "unit": "", "points": [], "band": None, "omitted": 0}
    points, unit = _one_unit(found)
    latest = points[-1]
    band = None
    if latest.ref_low is not None or latest.ref_high is not None:
        band = {"low": latest.ref_low, "high": latest.ref_high, "text": latest.ref_text}
    return {
        "key": key,
        "name": latest.name,
        "unit": unit,
        "band": band,
        "omitted": len(found) - len(points),
        "points": [
            {
                "t": timezone.localtime(o.effective_at).strftime("%Y-%m-%d %H:%M"),
                "value": o.value_normalised if o.value_normalised is not None else o.value,
                "flag": o.interpretation,
                "abnormal": o.abnormal,
                "report": o.report_id,
            }
            for o in points
        ],
    }


@dataclass
class YearRow:
    key: str
    name: str
    unit: str
    this: Observation
    before: Observation | None

    @property
    def change(self) -> float | None:
        if self.before is None:
            return None
        pair, _unit = _one_unit([self.before, self.this])
        if len(pair) < 2:  # not in one unit: no difference to tell
            return None
        then, now = (
            o.value_normalised if o.value_normalised is not None else o.value for o in pair
        )
        if now is None or then is None:
            return None
        return round(now - then, 2)


def year_over_year(patient: Any) -> tuple[int | None, list[YearRow]]:
    """Each item's latest value of the latest year with results, beside its latest value of
    an earlier year (体检结果逐年对比)."""
    numeric = _values(patient).order_by("-effective_at", "-id")
    latest_by_key: dict[str, Observation] = {}
    earlier_by_key: dict[str, Observation] = {}
    year = None
    for observation in numeric:
        observed_year = timezone.localtime(observation.effective_at).year
        if year is None:
            year = observed_year
        key = item_key(observation)
        if observed_year == year:
            latest_by_key.setdefault(key, observation)
        elif key in latest_by_key:
            earlier_by_key.setdefault(key, observation)
    rows = [
        YearRow(key, obs.name, obs.unit_normalised or obs.unit, obs, earlier_by_key.get(key))
        for key, obs in latest_by_key.items()
    ]
    return year, rows


def measurements_since(
    patient: Any, reports: list[Any], days: int = 365, limit: int = 12
) -> list[Any]:
    """The newest value of each item measured outside an exam report in the last ``days``
    (a reading on the patient pages, a follow-up's blood pressure, a vital sign over FHIR)
    and newer than the shown ``reports``' value of the same item, newest first."""
    shown: dict[str, Any] = {}
    for report in reports:
        for o in report.observations.all():
            key = item_key(o)
            if key not in shown or o.effective_at > shown[key]:
                shown[key] = o.effective_at
    since = timezone.now() - timedelta(days=days)
    latest: dict[str, Any] = {}
    for o in (
        _values(patient)
        .filter(report__isnull=True, effective_at__gte=since)
        .order_by("-effective_at", "-id")[:500]
    ):
        key = item_key(o)
        if key in latest or (key in shown and shown[key] >= o.effective_at):
            continue
        latest[key] = o
    return list(latest.values())[:limit]


def latest_reports(patient: Any, limit: int = 5) -> list[Any]:
    return list(
        patient.reports.prefetch_related("observations").order_by("-effective_at", "-id")[:limit]
    )

"""Shipped reference data: ICD-10 names, the exam item catalogue, default reference ranges
and default critical values (files in data/). Loaded after every migrate; only what is
missing is added, so an administrator's edits are never overwritten."""

from __future__ import annotations

import functools
from pathlib import Path

from careloop.clinical.grading import parse_critical, parse_interval

DATA = Path(__file__).with_name("data")


def rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


@functools.cache
def shipped_measured_codes() -> frozenset[str]:
    """The shipped catalogue's items measured with a unit (none of which can be negative),
    from the file: for checks that must not touch the database (the MLLP listener)."""
    return frozenset(
        code for code, _name, _en, _category, unit, *_ in rows("observation_catalogue.tsv") if unit
    )


def load_reference_data() -> None:
    from careloop.clinical.icd10 import load_catalogue
    from careloop.clinical.models import CriticalValueRule, ObservationDefinition, ReferenceRange

    load_catalogue()
    known = set(ObservationDefinition.objects.values_list("code", flat=True))
    ObservationDefinition.objects.bulk_create(
        ObservationDefinition(code=code, name=name, name_en=name_en, category=category, unit=unit)
        for code, name, name_en, category, unit, *_ in rows("observation_catalogue.tsv")
        if code not in known
    )
    with_ranges = set(ReferenceRange.objects.values_list("code", flat=True))
    new_ranges = []
    for code, sex, age_from, age_to, interval, *note in rows("reference_ranges.tsv"):
        if code in with_ranges:
            continue
        bounds = parse_interval(interval)
        new_ranges.append(
            ReferenceRange(
                code=code,
                sex=sex,
                age_from=int(age_from or 0),
                age_to=int(age_to) if age_to.strip() else None,
                low=bounds.low,
                high=bounds.high,
                low_inclusive=bounds.low_inclusive,
                high_inclusive=bounds.high_inclusive,
                note=(note[0] if note else "")[:200],
            )
        )
    ReferenceRange.objects.bulk_create(new_ranges)
    defaults = set(
        CriticalValueRule.objects.filter(organisation=None).values_list("code", "patient_group")
    )
    new_rules = []
    for code, low, high, *rest in rows("critical_values.tsv"):
        flags = set(rest[0].split(",")) - {""} if rest else set()
        groups = flags & {"neonate", "haematology"}
        if flags - groups - {"positive", "first"} or len(groups) > 1:
            raise ValueError(f"critical_values.tsv, {code}: unknown flags {sorted(flags)}")
        group = groups.pop() if groups else ""
        if (code, group) in defaults:
            continue
        critical = parse_critical(low, high)
        new_rules.append(
            CriticalValueRule(
                code=code,
                patient_group=group,
                low=critical.low,
                low_inclusive=critical.low_inclusive,
                high=critical.high,
                high_inclusive=critical.high_inclusive,
                positive="positive" in flags,
                first_only="first" in flags,
            )
        )
    CriticalValueRule.objects.bulk_create(new_rules)

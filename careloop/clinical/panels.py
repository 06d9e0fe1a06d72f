"""A blood pressure sent as one value, ``138/88`` under LOINC 85354-9 (as exam systems and
laboratories often send it, over HL7 or as a FHIR ``valueString``), read also as its systolic
(8480-6) and diastolic (8462-4) pressure: graded, and read by the rules and risk models, as
pressures sent alone. The value as sent is kept on the panel's own row."""

from __future__ import annotations

import re
from dataclasses import replace

from careloop.clinical.assessment import ResultInput

BP_PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
_PAIR = re.compile(
    r"^\s*(\d{2,3}(?:\.\d+)?)\s*[/／]\s*(\d{2,3}(?:\.\d+)?)\s*(?:mm\s*\[?hg\]?)?\s*$", re.I
)


def pressures(result: ResultInput) -> list[ResultInput]:
    """The systolic and diastolic pressure of ``result`` when it is a blood pressure sent as
    one text value, else none (a pair not reading as systolic over diastolic included)."""
    if result.loinc != BP_PANEL or result.value is not None:
        return []
    match = _PAIR.match(result.text)
    if match is None:
        return []
    systolic, diastolic = float(match[1]), float(match[2])
    if systolic <= diastolic:
        return []
    return [
        replace(
            result,
            name=name,
            loinc=code,
            local_code="",
            local_system="",
            value=value,
            text="",
            unit=result.unit or "mmHg",  # as sent (a pair in kPa is not read as mmHg)
            reference="",
            flags="",
        )
        for name, code, value in (("收缩压", SYSTOLIC, systolic), ("舒张压", DIASTOLIC, diastolic))
    ]


def with_pressures(results: list[ResultInput]) -> list[ResultInput]:
    """``results`` with each blood pressure sent as one value followed by its two pressures,
    but for a pressure also sent alone at the same time (an exam system sending 血压 138/88
    and 收缩压 138, 舒张压 88): read once, not twice (the rules would count it twice)."""
    if not any(r.loinc == BP_PANEL for r in results):
        return results
    sent = {(r.loinc, r.observed_at) for r in results if r.loinc in (SYSTOLIC, DIASTOLIC)}
    return [
        part
        for r in results
        for part in (r, *(p for p in pressures(r) if (p.loinc, p.observed_at) not in sent))
    ]

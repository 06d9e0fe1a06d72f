"""From a result as received to an observation as stored: normalised unit, the reference
range that applies, and its grade. No database access (the catalogue snapshot is passed in).

Rules (REFERENCE.md §4): the sender's reference range wins over the catalogue's; critical
values are the organisation's (or its nearest parent's, or the defaults); a sender's own
critical flag (HH, LL, AA) is kept even when our thresholds would not fire. A newborn (first
28 days of life) is graded by the newborn rows of the critical values where there are some
(total bilirubin); a qualitative item whose rule says so (cultures) is critical when its
result reads positive.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careloop.clinical.catalogue import Catalogue
from careloop.clinical.grading import (
    CRITICAL_HIGH,
    CRITICAL_LOW,
    HIGH,
    LOW,
    NORMAL,
    CriticalBounds,
    Grade,
    Interval,
    censored_critical,
    censored_grade,
    grade,
    parse_sender_range,
    reads_positive,
)
from careloop.clinical.reference_data import shipped_measured_codes
from careloop.clinical.units import UnitError, canonical_unit, convert

LOINC_SYSTEMS = {"LN", "LOINC", "HTTP://LOINC.ORG", "2.16.840.1.113883.6.1"}
LOINC_URI = "http://loinc.org"
NEONATE_DAYS = 28  # a newborn's critical values apply in the first 28 days of life
# Patient groups read from the record (their diagnoses), not from the result itself: grading
# marks a result with the group's own grade where it differs, and the code that stores it,
# which can read the patient's diagnoses, applies it (``clinical.patient_groups``).
RECORD_GROUPS = ("haematology",)
GROUP_WORDS = {"neonate": "新生儿", "haematology": "血液病/化疗"}
ABNORMAL = "A"  # a qualitative result that is not normal (HL7 table 0078)
_NOT_CRITICAL = {CRITICAL_HIGH: HIGH, CRITICAL_LOW: LOW, ABNORMAL: ABNORMAL}
_SENDER_GRADES = {
    "N": NORMAL,
    "L": LOW,
    "H": HIGH,
    "LL": CRITICAL_LOW,
    "HH": CRITICAL_HIGH,
    "<": LOW,
    ">": HIGH,
    "A": ABNORMAL,
    "AA": ABNORMAL,
}
_SENDER_CRITICAL = {"LL", "HH", "AA"}


class ImpossibleValue(ValueError):
    """A value no measurement of the item can have (a negative glucose): refused, never
    graded or stored (a negative value below a critical bound would raise a false alert)."""

    def __init__(self, code: str, name: str, value: float) -> None:
        super().__init__(f"{name} ({code}) cannot be negative: {value:g}")
        self.code, self.name, self.value = code, name, value


def check_possible(code: str, value: float | None, name: str) -> None:
    """``ImpossibleValue`` for a negative value of a measured item of the shipped catalogue:
    none of them (concentrations, counts, pressures, rates, pH, INR, sizes) can be below 0.
    An item an administrator adds may be one that can (base excess), so it is not checked.
    Reads no database (the MLLP listener asks it too); ``name`` names the item in the error."""
    if value is not None and value < 0 and code in shipped_measured_codes():
        raise ImpossibleValue(code, name or code, value)


@dataclass
class ResultInput:
    """One result as any interface delivers it (HL7 OBX, FHIR Observation, an Excel row)."""

    name: str
    observed_at: datetime
    loinc: str = ""  # the LOINC code, when sent or mapped
    local_code: str = ""
    local_system: str = ""
    value: float | None = None
    comparator: str = ""
    text: str = ""
    unit: str = ""
    reference: str = ""
    flags: str = ""
    status: str = "final"
    notes: list[str] = field(default_factory=list)


@dataclass
class Assessment:
    fields: dict[str, Any]
    grade: Grade | None
    # Critical by a first-occurrence-only threshold (ALT, AST): the caller, which can read
    # the patient's earlier results, grades a repeat abnormal instead (``clinical.repeats``).
    first_only: bool = False
    # By a record group (haematology): the grade (and first-only) its own critical values
    # give, where that differs from the all-patients grade above.
    alternatives: dict[str, tuple[Grade, bool]] = field(default_factory=dict)

    @property
    def critical(self) -> bool:
        return bool(self.fields["critical"])

    def take_group(self, group: str, note: str) -> None:
        """Graded by ``group``'s own critical values (the patient belongs to it)."""
        outcome, first_only = self.alternatives.pop(group)
        self.fields.update(interpretation=outcome.interpretation, critical=outcome.critical)
        before = self.fields.get("note") or ""
        self.fields["note"] = f"{before}\n{note}" if before else note
        self.grade, self.first_only = outcome, first_only

    def lower(self, note: str = "") -> None:
        """Not critical after all (a cancelled result, a repeat of a first-only one): graded
        abnormal at the same side (HH → H, LL → L), ``note`` added to the result's note."""
        interpretation = _NOT_CRITICAL.get(self.fields["interpretation"], "")
        self.fields.update(critical=False, interpretation=interpretation)
        if note:
            before = self.fields.get("note") or ""
            self.fields["note"] = f"{before}\n{note}" if before else note
        threshold = self.grade.threshold if self.grade else ""
        self.grade = Grade(interpretation, threshold) if interpretation else None
        self.first_only = False


@functools.lru_cache(maxsize=1024)
def _convert_interval(code: str, interval: Interval, unit: str, target: str) -> Interval:
    return Interval(
        convert(code, interval.low, unit, target) if interval.low is not None else None,
        convert(code, interval.high, unit, target) if interval.high is not None else None,
        interval.low_inclusive,
        interval.high_inclusive,
    )


def patient_group(days_old: int | None) -> str:
    """The critical values' patient group of a patient ``days_old`` days old at the result."""
    return "neonate" if days_old is not None and 0 <= days_old < NEONATE_DAYS else ""


def assess(
    result: ResultInput,
    *,
    sex: str,
    age: int,
    organisation_path: str,
    catalogue: Catalogue,
    days_old: int | None = None,
) -> Assessment:
    """``age`` in whole years and ``days_old`` (when the birth date is known) at the result.
    A cancelled result (OBX-11 D or X) is graded but never critical: nobody is called for a
    value the laboratory has withdrawn."""
    assessment = _assess(result, sex, age, organisation_path, catalogue, days_old)
    if result.status == "cancelled" and assessment.critical:
        assessment.lower()
    return assessment


def _assess(
    result: ResultInput,
    sex: str,
    age: int,
    organisation_path: str,
    catalogue: Catalogue,
    days_old: int | None,
) -> Assessment:
    code = result.loinc
    group = patient_group(days_old)
    item = catalogue.item(code) if code else None
    check_possible(code, result.value, item.name if item else result.name)
    value_type = "numeric" if result.value is not None else "text"
    fields: dict[str, Any] = {
        "code_system": LOINC_URI if code else "",
        "code": code,
        "local_system": result.local_system,
        "local_code": result.local_code,
        "name": (item.name if item else result.name or result.local_code or code)[:200],
        "value_type": value_type,
        "value": result.value,
        "comparator": result.comparator[:2],
        "value_text": (result.text or (f"{result.value:g}" if result.value is not None else ""))[
            :500
        ],
        "unit": result.unit[:30],
        "value_normalised": None,
        "unit_normalised": "",
        "ref_low": None,
        "ref_low_inclusive": True,
        "ref_high": None,
        "ref_high_inclusive": True,
        "ref_text": result.reference[:60],
        "interpretation": "",
        "critical": False,
        "sender_flags": result.flags[:10],
        "status": result.status,
        "effective_at": result.observed_at,
        "note": "\n".join(result.notes),
    }
    sender_grade = _SENDER_GRADES.get(result.flags)
    sender_critical = result.flags in _SENDER_CRITICAL
    if result.value is None:
        bounds = catalogue.critical_bounds(organisation_path, code, group) if code else None
        if bounds is not None and bounds.positive and reads_positive(result.text):
            # abnormal and critical, as a laboratory's own "AA" is: not a "high" value
            fields.update(interpretation=ABNORMAL, critical=True)
            first_only = bounds.first_only and not sender_critical
            return Assessment(fields, Grade(ABNORMAL, "阳性"), first_only)
        if sender_grade:
            fields["interpretation"] = sender_grade
            fields["critical"] = sender_critical
        return Assessment(fields, Grade(sender_grade, "") if sender_grade else None)

    value = result.value
    sender_range = parse_sender_range(result.reference)
    normal: Interval | None = sender_range
    critical = None
    if item and item.unit:
        try:
            value = convert(code, result.value, result.unit, item.unit)
            fields["value_normalised"] = round(value, 6)
            fields["unit_normalised"] = item.unit
            if sender_range is not None:
                normal = _convert_interval(code, sender_range, result.unit, item.unit)
            critical = catalogue.critical_bounds(organisation_path, code, group)
        except UnitError:
            value = result.value  # graded in the sender's own units against its own range
    if normal is None and item and fields["unit_normalised"]:
        normal = catalogue.reference(code, sex, age)
    if normal is not None:
        fields.update(
            ref_low=normal.low,
            ref_low_inclusive=normal.low_inclusive,
            ref_high=normal.high,
            ref_high_inclusive=normal.high_inclusive,
        )
        # Empty, or our own notation in the catalogue's unit ("[3.9, 7.8)" from the patient
        # pages): as people read it. A laboratory's own text is kept as it sent it.
        ours = fields["ref_text"][:1] in ("[", "(")
        same_unit = canonical_unit(result.unit) == canonical_unit(fields["unit_normalised"])
        if not fields["ref_text"] or (ours and same_unit and sender_range is not None):
            fields["ref_text"] = normal.text()[:60]
    converted = bool(fields["unit_normalised"])  # critical values are in the catalogue's unit
    everyone = catalogue.critical_bounds(organisation_path, code) if converted else None

    def decide(bounds: CriticalBounds | None, group: str) -> tuple[Grade, bool] | None:
        """The grade by these critical bounds (and whether first-only), None when a censored
        value straddles a bound."""
        if result.comparator in ("<", "<=", ">", ">="):  # censored: every value it allows
            graded = censored_critical(result.comparator, value, bounds) or censored_grade(
                result.comparator, value, normal
            )
            if graded is None:
                return None
            outcome = graded
        else:
            outcome = grade(value, normal, bounds)
        # the laboratory's own critical call stands, repeat or not
        first_only = bool(bounds and bounds.first_only and outcome.critical and not sender_critical)
        if outcome.critical and group and bounds is not everyone:
            # the group's own threshold decided: say so ("新生儿≥340")
            outcome = Grade(outcome.interpretation, f"{GROUP_WORDS[group]}{outcome.threshold}")
        if sender_critical and not outcome.critical:
            outcome = Grade(
                sender_grade if sender_grade in (CRITICAL_LOW, CRITICAL_HIGH) else CRITICAL_HIGH,
                "检验科标记为危急值",
            )
        if normal is None and outcome.interpretation == NORMAL and sender_grade:
            outcome = Grade(sender_grade, "")
        return outcome, first_only

    decided = decide(critical, group)
    if decided is None:  # straddles a bound: the laboratory's flag, or not graded
        if sender_grade:
            fields.update(interpretation=sender_grade, critical=sender_critical)
            return Assessment(fields, Grade(sender_grade, ""))
        return Assessment(fields, None)
    if normal is None and critical is None and not sender_grade:
        fields["interpretation"] = ""  # nothing to grade against
        return Assessment(fields, None)
    outcome, first_only = decided
    fields["interpretation"] = outcome.interpretation
    fields["critical"] = outcome.critical
    assessment = Assessment(fields, outcome, first_only)
    for other in RECORD_GROUPS if converted and not group else ():
        bounds = catalogue.critical_bounds(organisation_path, code, other)
        alternative = decide(bounds, other) if bounds is not critical else None
        if alternative is not None and alternative[0] != outcome:  # or the bound that decided
            assessment.alternatives[other] = alternative
    return assessment

"""Critical values reported on first occurrence only (REFERENCE §4.5: ALT / AST ≥ 300 U/L).

Grading knows no history, so it marks such a critical result ``first_only``; the code that
stores results, which can read the record, grades it abnormal (H / L) instead when the
patient already has a critical result of the item, or an earlier one in the same batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from careloop.clinical.assessment import Assessment
from careloop.clinical.grading import CRITICAL_HIGH, CRITICAL_LOW, HIGH, LOW, Grade

REPEAT_NOTE = "此前已报告过该项目的危急值，本次按异常处理（该项目仅首次出现时为危急值）"


def settle_repeats(
    results: Iterable[tuple[Hashable, int | None, Assessment]], *, exclude: int | None = None
) -> int:
    """``results``: (the person within the batch, their patient id or None when the batch
    enrols them, assessment), in the order received. Returns how many were graded down.
    One query, and only when a first-only critical value is among them; ``exclude``: an
    observation being corrected, which is not its own earlier occurrence."""
    from careloop.clinical.models import Observation

    wanted = [(person, pk, a) for person, pk, a in results if a.first_only and a.critical]
    if not wanted:
        return 0
    patients = {pk for _, pk, _ in wanted if pk is not None}
    seen: set[tuple[Hashable, str]] = set()
    if patients:
        stored = Observation.objects.filter(
            patient_id__in=patients,
            code__in={a.fields["code"] for _, _, a in wanted},
            critical=True,
        )
        if exclude is not None:
            stored = stored.exclude(pk=exclude)
        by_patient = {pk: person for person, pk, _ in wanted if pk is not None}
        seen = {
            (by_patient[pk], code)
            for pk, code in stored.values_list("patient_id", "code").distinct()
        }
    demoted = 0
    for person, _, assessment in wanted:
        key = (person, assessment.fields["code"])
        if key in seen:
            demote(assessment)
            demoted += 1
        seen.add(key)
    return demoted


def demote(assessment: Assessment) -> None:
    """A repeated first-only critical value: abnormal, not critical, and saying why."""
    interpretation = {CRITICAL_LOW: LOW, CRITICAL_HIGH: HIGH}.get(
        assessment.fields["interpretation"], assessment.fields["interpretation"]
    )
    threshold = assessment.grade.threshold if assessment.grade else ""
    note = assessment.fields.get("note") or ""
    assessment.fields.update(
        interpretation=interpretation,
        critical=False,
        note=f"{note}\n{REPEAT_NOTE}" if note else REPEAT_NOTE,
    )
    assessment.grade = Grade(interpretation, threshold)
    assessment.first_only = False

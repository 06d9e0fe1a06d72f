"""Critical values of patient groups known from the record (REFERENCE §4.5: a white count
critical at 0.5 and platelets at 10 ×10⁹/L in haematology or chemotherapy patients, where
2.0 and 30 apply to everyone else).

Grading reads only the result, so it gives each result the all-patients grade and, where a
group's own critical values would grade it otherwise, that grade too
(``Assessment.alternatives``). The code that stores results, which can read the record, then
grades the results of the group's patients by it: one query, and only when such a result is
among them. A patient is in the haematology group while a diagnosis of theirs that is not
resolved is one of ``HAEMATOLOGY_ICD10`` (a blood cancer, myelodysplasia, aplastic anaemia,
agranulocytosis, or a course of chemotherapy).
"""

from __future__ import annotations

from collections.abc import Iterable

from careloop.clinical.assessment import GROUP_WORDS, Assessment

# ICD-10: C81–C96 malignant neoplasms of lymphoid, haematopoietic and related tissue; D45–D47
# polycythaemia vera, myelodysplastic syndromes, other such neoplasms; D61 aplastic anaemia;
# D70 agranulocytosis (chemotherapy-induced neutropenia among it); Z51.1 chemotherapy session
# for a neoplasm.
HAEMATOLOGY_ICD10 = (
    *(f"C{n}" for n in range(81, 97)),
    "D45",
    "D46",
    "D47",
    "D61",
    "D70",
    "Z51.1",
)
GROUP_PREFIXES = {"haematology": HAEMATOLOGY_ICD10}


def in_group(icd10_code: str, group: str) -> bool:
    code = icd10_code.strip().upper()
    return any(code.startswith(prefix) for prefix in GROUP_PREFIXES[group])


def group_note(group: str, assessment: Assessment) -> str:
    outcome, _first_only = assessment.alternatives[group]
    word = GROUP_WORDS[group]
    if outcome.critical:
        return f"按{word}患者的危急值标准判定（{outcome.threshold}）"
    return f"{word}患者：按其危急值标准未达危急值，按异常处理"


def settle_groups(results: Iterable[tuple[int | None, Assessment]]) -> int:
    """``results``: (patient id, or None for a patient the batch enrols, who has no stored
    diagnosis yet; assessment). Grades the results of the groups' patients by the groups'
    own critical values; returns how many changed."""
    from careloop.clinical.models import Condition

    wanted = [(pk, a) for pk, a in results if a.alternatives and pk is not None]
    if not wanted:
        return 0
    codes = Condition.objects.filter(patient_id__in={pk for pk, _ in wanted}).exclude(
        clinical_status=Condition.ClinicalStatus.RESOLVED
    )
    members: dict[str, set[int]] = {group: set() for group in GROUP_PREFIXES}
    for pk, code in codes.values_list("patient_id", "icd10_code"):
        for group, patients in members.items():
            if in_group(code, group):
                patients.add(pk)
    changed = 0
    for pk, assessment in wanted:
        for group, patients in members.items():
            if pk in patients and group in assessment.alternatives:
                assessment.take_group(group, group_note(group, assessment))
                changed += 1
                break
    return changed

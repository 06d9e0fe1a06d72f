"""The shipped ICD-10 starter catalogue (data/icd10_common.tsv), and the check every way a
coded diagnosis comes in shares (the staff form, FHIR Condition, HL7 DG1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

CATALOGUE = Path(__file__).with_name("data") / "icd10_common.tsv"


def shipped_codes() -> list[tuple[str, str, str]]:
    """(code, Chinese name, English name) rows of the shipped catalogue."""
    rows = []
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, name, name_en = line.split("\t")
        rows.append((code, name, name_en))
    return rows


def catalogue_name(code: str) -> str | None:
    """The catalogue's name for a code, or else for its category (I50.9 → I50 心力衰竭)."""
    from careloop.clinical.models import Icd10Code

    names = dict(
        Icd10Code.objects.filter(code__in={code, code.split(".")[0]}).values_list("code", "name")
    )
    return names.get(code) or names.get(code.split(".")[0])


# An ICD-10 code: a category (I10), with up to four characters after the point (E11.9,
# I25.103), and the national clinical edition's extension (国家临床版 2.0: I10.x00x002,
# I50.900x007), as Chinese hospital systems send them.
WELL_FORMED = re.compile(r"^[A-Z]\d{2}(\.[0-9Xx]{1,4}([Xx]\d{3})?)?$")
CODE_LENGTH = 16  # the longest a column holding one takes


class UnknownDiagnosis(ValueError):
    """A diagnosis code that cannot be kept: ``malformed`` when it is not an ICD-10 code at
    all, else not in the catalogue and sent without a name."""

    def __init__(self, code: str, *, malformed: bool) -> None:
        super().__init__(
            f"{code} is not an ICD-10 code (like I10, E11.9 or I25.1)"
            if malformed
            else f"{code} is not in the catalogue"
        )
        self.malformed = malformed


def diagnosis_name(code: str, given: str = "", names: Mapping[str, str] | None = None) -> str:
    """The name a coded diagnosis is kept under: the one sent with it, else the catalogue's
    (of the code or its category). ``UnknownDiagnosis`` when the code is not a well-formed
    ICD-10 code, or is not in the catalogue and came without a name. ``names``: a snapshot of
    the catalogue (code → name) when the caller holds one, else it is looked up."""
    if not WELL_FORMED.match(code):
        raise UnknownDiagnosis(code, malformed=True)
    if given.strip():
        return given.strip()
    if names is None:
        found = catalogue_name(code)
    else:
        found = names.get(code) or names.get(code.split(".")[0])
    if not found:
        raise UnknownDiagnosis(code, malformed=False)
    return found


def load_catalogue() -> int:
    """Add the shipped codes that are missing (never overwrites an administrator's edits)."""
    from careloop.clinical.models import Icd10Code

    existing = set(Icd10Code.objects.values_list("code", flat=True))
    new = [
        Icd10Code(code=code, name=name, name_en=name_en)
        for code, name, name_en in shipped_codes()
        if code not in existing
    ]
    Icd10Code.objects.bulk_create(new)
    return len(new)

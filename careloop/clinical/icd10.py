"""The shipped ICD-10 starter catalogue (data/icd10_common.tsv)."""

from __future__ import annotations

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

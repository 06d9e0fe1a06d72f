"""Procedure codes (手术操作): the check every way a procedure comes in shares (the staff
form, HL7 PR1, FHIR Procedure), and which procedures are operations (术后, DOMAIN F5).

Chinese hospitals code procedures in ICD-9-CM-3, as 手术操作分类代码国家临床版 extends it
(36.0601, 51.2300x001). Another code system is kept as sent, its code unchecked."""

from __future__ import annotations

import re

ICD9CM3 = "ICD-9-CM-3"  # how the code system is stored for ICD-9-CM-3 codes
# ICD-9-CM-3: a two-digit category, up to four digits after the point, and the national
# clinical edition's extension (x001).
WELL_FORMED = re.compile(r"^\d{2}(\.\d{1,4}([Xx]\d{3})?)?$")
# How senders name ICD-9-CM-3 (HL7 table 0396 I9C / I9CP, and Chinese HIS spellings),
# compared without case, spaces, dashes, dots or underscores.
_NAMES = frozenset({"I9C", "I9CP", "I9", "ICD9", "ICD9CM", "ICD9CM3", "ICD9CMV3", "ICD9CN"})
CODE_LENGTH = 32
# Categories 00–86 are operations; 87–99 are other diagnostic and therapeutic procedures
# (imaging, injections, physiotherapy), after which a patient is not post-operative.
LAST_SURGICAL_CATEGORY = 86


class BadProcedureCode(ValueError):
    """A procedure code that cannot be kept (missing, or not ICD-9-CM-3 when said to be)."""


def is_icd9cm3(system: str) -> bool:
    """Whether a code system as sent (HL7 PR1-3.3, a FHIR system's last part) names
    ICD-9-CM-3."""
    return re.sub(r"[\s._-]", "", system).upper() in _NAMES


def procedure_code(code: str, system: str) -> tuple[str, str]:
    """(code, code system) as kept: an ICD-9-CM-3 code (the system named so, or none given
    and the code shaped as one) checked and stored under ``ICD9CM3``; another system's code
    kept as sent. ``BadProcedureCode`` when it cannot be kept."""
    code, system = code.strip(), system.strip()
    if not code:
        raise BadProcedureCode("the procedure code is missing")
    if len(code) > CODE_LENGTH:
        raise BadProcedureCode(f"{code[:40]!r} is longer than {CODE_LENGTH} characters")
    if is_icd9cm3(system) or system == ICD9CM3 or (not system and WELL_FORMED.match(code)):
        if not WELL_FORMED.match(code):
            raise BadProcedureCode(f"{code} is not an ICD-9-CM-3 code (like 36.06 or 36.0601)")
        return code.lower(), ICD9CM3
    return code, (system or "local")[:100]


def is_surgery(code: str, system: str) -> bool:
    """An ICD-9-CM-3 code of an operation (categories 00–86)."""
    return (
        system == ICD9CM3
        and bool(WELL_FORMED.match(code))
        and (int(code[:2]) <= LAST_SURGICAL_CATEGORY)
    )

from careloop.patients.models.consent import ConsentRecord, PatientShare
from careloop.patients.models.patient import (
    Channel,
    DigitalLiteracy,
    Patient,
    PatientContact,
    PatientIdentifier,
    Sex,
    Tier,
)
from careloop.patients.models.record import (
    Allergy,
    FamilyHistory,
    Lifestyle,
    Medication,
    PastHistory,
)
from careloop.patients.models.tags import PatientTag, Tag, TagEvent

__all__ = [
    "Allergy",
    "Channel",
    "ConsentRecord",
    "DigitalLiteracy",
    "FamilyHistory",
    "Lifestyle",
    "Medication",
    "PastHistory",
    "Patient",
    "PatientContact",
    "PatientIdentifier",
    "PatientShare",
    "PatientTag",
    "Sex",
    "Tag",
    "TagEvent",
    "Tier",
]

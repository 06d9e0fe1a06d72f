from careloop.patients.models.consent import ConsentRecord, PatientShare
from careloop.patients.models.patient import (
    Channel,
    DigitalLiteracy,
    Patient,
    PatientContact,
    PatientIdentifier,
    Sex,
)
from careloop.patients.models.record import (
    Allergy,
    FamilyHistory,
    Lifestyle,
    Medication,
    PastHistory,
)

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
    "Sex",
]

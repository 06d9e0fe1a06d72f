from careloop.clinical.models.catalogue import (
    CriticalValueRule,
    ObservationDefinition,
    ReferenceRange,
)
from careloop.clinical.models.records import Condition, Encounter, Icd10Code, Procedure, Source
from careloop.clinical.models.results import DiagnosticReport, Interpretation, Observation

__all__ = [
    "Condition",
    "CriticalValueRule",
    "DiagnosticReport",
    "Encounter",
    "Icd10Code",
    "Interpretation",
    "Observation",
    "ObservationDefinition",
    "Procedure",
    "ReferenceRange",
    "Source",
]

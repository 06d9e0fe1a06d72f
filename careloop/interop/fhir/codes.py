"""Code systems and identifier systems CareLoop reads and writes in FHIR."""

from __future__ import annotations

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_SYSTEMS = {ICD10, "http://hl7.org/fhir/sid/icd-10-cn", "urn:oid:2.16.840.1.113883.6.3"}
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"

# CareLoop's identifier systems (NamingSystems), documented in the CapabilityStatement.
RESIDENT_ID = "urn:careloop:sid:resident-id"  # 居民身份证号
PASSPORT = "urn:careloop:sid:passport"
CARD = "urn:careloop:sid:card"  # 会员卡号, issued by CareLoop
MRN = "urn:careloop:sid:mrn"  # 门诊号/住院号 of the patient's organisation
EXAM = "urn:careloop:sid:exam"  # 体检号
VISIT = "urn:careloop:sid:visit"
REPORT = "urn:careloop:sid:report"
ENCOUNTER_KIND = "urn:careloop:encounter-kind"

# Identifier type codes (HL7 v2 table 0203) accepted when the system is someone else's.
TYPE_FIELDS = {"NI": "id_number", "PPN": "passport", "MR": "mrn"}
SYSTEM_FIELDS = {RESIDENT_ID: "id_number", PASSPORT: "passport", MRN: "mrn", EXAM: "exam_number"}

ENCOUNTER_CLASS = {
    "AMB": "outpatient",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "EMER": "emergency",
    "HH": "home_visit",
}
ENCOUNTER_CLASS_OUT = {
    "outpatient": "AMB",
    "inpatient": "IMP",
    "emergency": "EMER",
    "home_visit": "HH",
    "exam": "AMB",
}
ENCOUNTER_STATUS = {
    "planned": "planned",
    "arrived": "in_progress",
    "triaged": "in_progress",
    "in-progress": "in_progress",
    "onleave": "in_progress",
    "finished": "finished",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
ENCOUNTER_STATUS_OUT = {
    "planned": "planned",
    "in_progress": "in-progress",
    "finished": "finished",
    "cancelled": "cancelled",
}
CLINICAL_STATUS = {
    "active": "active",
    "recurrence": "active",
    "relapse": "active",
    "inactive": "resolved",
    "remission": "remission",
    "resolved": "resolved",
}
OBSERVATION_STATUS = {
    "registered": "preliminary",
    "preliminary": "preliminary",
    "final": "final",
    "amended": "corrected",
    "corrected": "corrected",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
OBSERVATION_STATUS_OUT = {
    "preliminary": "preliminary",
    "final": "final",
    "corrected": "corrected",
    "cancelled": "cancelled",
}
REPORT_STATUS = {"registered", "partial", "preliminary", "final", "amended", "cancelled"}
INTERPRETATION_DISPLAY = {
    "N": "Normal",
    "L": "Low",
    "H": "High",
    "LL": "Critical low",
    "HH": "Critical high",
    "A": "Abnormal",
}
VITAL_CODES = {"8480-6", "8462-4", "8867-4", "8302-2", "29463-7", "39156-5", "8280-0", "85354-9"}

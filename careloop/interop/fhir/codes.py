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
# A unit as CareLoop reads it (careloop.clinical.units.canonical_unit) → its UCUM code, served
# as valueQuantity.system/code: the FHIR vital-signs profile requires them (a blood pressure
# sent with code mm[Hg] came back with its unit text alone, so failed validation).
UCUM_CODES = {
    "mmol/l": "mmol/L",
    "umol/l": "umol/L",
    "meq/l": "meq/L",
    "mg/dl": "mg/dL",
    "g/l": "g/L",
    "g/dl": "g/dL",
    "mmhg": "mm[Hg]",
    "%": "%",
    "cm": "cm",
    "m": "m",
    "mm": "mm",
    "[in_i]": "[in_i]",
    "kg": "kg",
    "g": "g",
    "[lb_av]": "[lb_av]",
    "/min": "/min",
    "kg/m2": "kg/m2",
    "10*9/l": "10*9/L",
    "ng/ml": "ng/mL",
    "ng/l": "ng/L",
    "s": "s",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "u/l": "U/L",
    "miu/l": "m[IU]/L",
    "{inr}": "{INR}",
    "[ph]": "[pH]",
}

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

# Follow-up (read-only: Task, CarePlan, Flag). CareLoop's own code systems for its codes.
FOLLOWUP_PURPOSE = "https://careloop.dev/fhir/CodeSystem/followup-purpose"
FOLLOWUP_OUTCOME = "https://careloop.dev/fhir/CodeSystem/followup-outcome"
ALERT_KIND = "https://careloop.dev/fhir/CodeSystem/alert-kind"
ALERT_SEVERITY = "https://careloop.dev/fhir/CodeSystem/alert-severity"

# Ours → FHIR; every code of the FHIR value set may be searched (those we never send match
# nothing), anything else is a 400.
TASK_STATUS_OUT = {
    "open": "requested",
    "done": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
TASK_STATUSES = {
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
}
CAREPLAN_STATUS_OUT = {"active": "active", "completed": "completed", "stopped": "revoked"}
CAREPLAN_STATUSES = {
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
}
FLAG_STATUS_OUT = {
    "open": "active",
    "acknowledged": "active",
    "in_progress": "active",
    "resolved": "inactive",
    "verified": "inactive",
}
FLAG_STATUSES = {"active", "inactive", "entered-in-error"}

# Procedures: ICD-9-CM (its volume 3, procedures; 手术操作分类代码国家临床版 extends it), and
# SNOMED CT's "surgical procedure" as a Procedure.category.
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
ICD9CM_SYSTEMS = {ICD9CM, "urn:oid:2.16.840.1.113883.6.104", "urn:oid:2.16.840.1.113883.6.2"}
SNOMED = "http://snomed.info/sct"
SURGICAL_PROCEDURE = "387713003"
PROCEDURE_STATUS = {"completed": "completed", "in-progress": "in_progress", "stopped": "stopped"}
PROCEDURE_STATUS_OUT = {ours: theirs for theirs, ours in PROCEDURE_STATUS.items()}

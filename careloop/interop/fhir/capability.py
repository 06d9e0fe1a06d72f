"""The CapabilityStatement at /fhir/R4/metadata (committed as docs/fhir/CapabilityStatement.json;
a test fails when it drifts)."""

from __future__ import annotations

from typing import Any

from careloop import __version__
from careloop.interop.fhir import codes
from careloop.interop.fhir.base import Handler

SEARCH_TYPES = {
    "_id": "token",
    "identifier": "token",
    "name": "string",
    "birthdate": "date",
    "gender": "token",
    "phone": "token",
    "patient": "reference",
    "subject": "reference",
    "date": "date",
    "status": "token",
    "class": "token",
    "code": "token",
    "clinical-status": "token",
    "onset-date": "date",
    "category": "token",
    "url": "uri",
    "questionnaire": "reference",
}


def capability_statement(base: str = "") -> dict[str, Any]:
    from careloop.interop.fhir.views import HANDLERS

    resources = []
    for name, handler in HANDLERS.items():
        interactions = ["read", "vread", "search-type"]
        if type(handler).create is not Handler.create:  # Task, CarePlan, Flag: read-only
            interactions.append("create")
        if type(handler).update is not Handler.update:
            interactions.append("update")
        resources.append(
            {
                "type": name,
                "interaction": [{"code": code} for code in interactions],
                "versioning": "versioned-update",
                "readHistory": False,
                "conditionalCreate": "create" in interactions,
                "searchParam": [{"name": p, "type": SEARCH_TYPES[p]} for p in handler.search_params]
                + [{"name": "_count", "type": "number"}, {"name": "_offset", "type": "number"}],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": "CareLoop", "version": __version__},
        "implementation": {"description": "CareLoop FHIR R4 endpoint", "url": "/fhir/R4"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Bearer tokens from `careloop apitoken create USERNAME`. Identifiers: "
                    f"{codes.RESIDENT_ID} (resident ID), {codes.PASSPORT}, {codes.CARD} "
                    f"(member card), {codes.MRN}:<issuer>, {codes.EXAM}:<issuer> (a record "
                    "number kept, returned and matched under the issuer named, as HL7 PID-3 "
                    "with its assigning authority). An identifier search system|value matches "
                    "that system only (an unknown system, or |value, nothing); a value alone "
                    "any system. Identifiers "
                    "and phone numbers are returned masked; a masked value sent back means "
                    "unchanged. Observations are graded (interpretation N/L/H/LL/HH) on arrival "
                    "and critical values raise alerts. A Procedure is coded in ICD-9-CM "
                    f"({codes.ICD9CM}: volume 3 and the national clinical edition's codes, "
                    "36.0601) or another system kept as sent, with performed[x] (not in the "
                    "future) and a status of completed, in-progress or stopped; an ICD-9-CM "
                    "code of categories 00-86, or a category of SNOMED CT "
                    f"{codes.SURGICAL_PROCEDURE}, is an operation (the tag 术后 for 30 days). "
                    "Task, CarePlan and Flag (follow-up "
                    "tasks, plans and alerts) are read and searched only. A create with "
                    "If-None-Exist (a Bundle entry's request.ifNoneExist; or the search's "
                    "parameters in the create's URL, POST Patient?identifier=...), a search of the "
                    "type's parameters, alone or as its URL (Patient?identifier=...) "
                    "(a Patient: identifier of a system CareLoop keeps; "
                    f"an Encounter's identifier: value or {codes.VISIT}|value), "
                    "is answered 200 with the stored resource when one matches, 412 when "
                    "several do. meta.versionId and the ETag name the "
                    "current version (a digest of the resource); an update with If-Match "
                    "(request.ifMatch) of another version is refused 412; earlier versions "
                    "are not kept. A create or update answers as Prefer: return= asks "
                    "(minimal: no body; OperationOutcome; representation, the default: the "
                    "resource)."
                ),
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ],
                            "text": "Bearer token",
                        }
                    ]
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }

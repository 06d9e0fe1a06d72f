"""transaction and batch Bundles.

A transaction is all or nothing: the first failing entry rolls everything back and the
answer is that entry's OperationOutcome (its expressions prefixed with Bundle.entry[n]).
A batch processes entries independently and answers each. Creates are done in dependency
order (Patient, Encounter, Condition, Observation, DiagnosticReport) so "urn:uuid:"
references between entries resolve; Observations are stored per patient in one batch.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import QueryDict

from careloop.interop.fhir.base import Handler, References
from careloop.interop.fhir.outcome import FhirError, outcome
from careloop.write_gate import write_gate

ORDER = ["Patient", "Encounter", "Condition", "Observation", "DiagnosticReport"]
STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    422: "422 Unprocessable Entity",
}


def _prefixed(error: FhirError, index: int) -> FhirError:
    for item in error.issues:
        item["expression"] = [
            f"Bundle.entry[{index}].resource.{e.split('.', 1)[-1]}"
            if "." in e
            else f"Bundle.entry[{index}].resource"
            for e in item.get("expression", [])
        ] or [f"Bundle.entry[{index}]"]
        item["diagnostics"] = f"entry {index}: {item['diagnostics']}"
    return error


class Entry:
    def __init__(self, index: int, raw: dict[str, Any], handlers: dict[str, Handler]):
        self.index = index
        request = raw.get("request") or {}
        self.method = (request.get("method") or "").upper()
        self.url = request.get("url") or ""
        self.full_url = raw.get("fullUrl") or ""
        self.resource: dict[str, Any] = raw.get("resource") or {}
        if self.method not in ("POST", "PUT", "GET"):
            raise _prefixed(
                FhirError(
                    400,
                    f"request.method {self.method or '(none)'} is not supported (POST, PUT, GET)",
                    code="not-supported",
                ),
                index,
            )
        path = self.url.split("?", 1)[0].strip("/")
        self.resource_type = path.split("/", 1)[0]
        self.instance_id = path.split("/", 1)[1] if "/" in path else ""
        self.query = self.url.split("?", 1)[1] if "?" in self.url else ""
        if self.resource_type not in handlers:
            raise _prefixed(
                FhirError(
                    404,
                    f"request.url: {self.resource_type!r} is not a supported resource type",
                    code="not-supported",
                ),
                index,
            )
        self.handler = handlers[self.resource_type]
        if self.method in ("POST", "PUT"):
            try:
                self.handler.validate(self.resource)
            except FhirError as error:
                raise _prefixed(error, index) from error
        self.status = 0
        self.result: Any = None


def process(
    user: Any, bundle: dict[str, Any], handlers: dict[str, Handler], base: str
) -> dict[str, Any]:
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise FhirError(
            400,
            "Bundle.type must be transaction or batch",
            code="value",
            expression=["Bundle.type"],
        )
    raw_entries = bundle.get("entry") or []
    if kind == "transaction":
        entries = [Entry(i, raw, handlers) for i, raw in enumerate(raw_entries)]
        with write_gate(), transaction.atomic():
            _run(user, entries, References(), stop_on_error=True)
        return _response(entries, "transaction-response", base)
    responses: list[dict[str, Any]] = []
    refs = References()
    for index, raw in enumerate(raw_entries):
        try:
            entry = Entry(index, raw, handlers)
            with write_gate(), transaction.atomic():
                _run(user, [entry], refs, stop_on_error=True)
            responses.append(_entry_response(entry, base))
        except FhirError as error:
            responses.append(
                {
                    "response": {
                        "status": STATUS_TEXT.get(error.status, str(error.status)),
                        "outcome": outcome(error.issues),
                    }
                }
            )
    return {"resourceType": "Bundle", "type": "batch-response", "entry": responses}


def _run(user: Any, entries: list[Entry], refs: References, *, stop_on_error: bool) -> None:
    creates = [e for e in entries if e.method == "POST"]
    for resource_type in ORDER:
        group = [e for e in creates if e.resource_type == resource_type]
        if not group:
            continue
        handler = group[0].handler
        try:
            if hasattr(handler, "create_many"):
                objects = handler.create_many(user, [e.resource for e in group], refs)
            else:
                objects = []
                for entry in group:
                    try:
                        objects.append(handler.create(user, entry.resource, refs))
                    except FhirError as error:
                        raise _prefixed(error, entry.index) from error
        except FhirError as error:
            if error.item_index is not None:  # create_many says which of the group failed
                raise _prefixed(error, group[error.item_index].index) from error
            raise
        for entry, obj in zip(group, objects, strict=True):
            entry.status, entry.result = 201, obj
            refs.add(entry.full_url, resource_type, obj)
    for entry in entries:
        try:
            if entry.method == "PUT":
                obj = entry.handler.get(user, entry.instance_id)
                entry.result = entry.handler.update(user, obj, entry.resource, refs)
                entry.status = 200
            elif entry.method == "GET":
                if entry.instance_id:
                    entry.result = entry.handler.get(user, entry.instance_id)
                else:
                    entry.result = list(entry.handler.search(user, QueryDict(entry.query))[:200])
                entry.status = 200
        except FhirError as error:
            raise _prefixed(error, entry.index) from error


def _entry_response(entry: Entry, base: str) -> dict[str, Any]:
    response: dict[str, Any] = {"status": STATUS_TEXT[entry.status]}
    result: dict[str, Any] = {"response": response}
    if entry.method in ("POST", "PUT"):
        response["location"] = f"{entry.resource_type}/{entry.result.pk}"
    elif isinstance(entry.result, list):
        result["resource"] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entry.result),
            "entry": [
                {
                    "fullUrl": f"{base}/{entry.resource_type}/{obj.pk}",
                    "resource": entry.handler.to_fhir(obj),
                }
                for obj in entry.result
            ],
        }
    else:
        result["resource"] = entry.handler.to_fhir(entry.result)
    return result


def _response(entries: list[Entry], kind: str, base: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [_entry_response(e, base) for e in entries],
    }

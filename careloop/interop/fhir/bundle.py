"""transaction and batch Bundles.

A transaction is all or nothing: the first failing entry rolls everything back and the
answer is that entry's OperationOutcome (its expressions prefixed with Bundle.entry[n]).
A batch processes entries independently and answers each. Creates are done in dependency
order (Patient, Encounter, Condition, Procedure, Observation, DiagnosticReport, Questionnaire,
QuestionnaireResponse) so "urn:uuid:" references between entries resolve; Observations are
stored per patient in one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.db import transaction
from django.http import QueryDict

from careloop.interop.fhir import conditional, versions
from careloop.interop.fhir.base import (
    Handler,
    Prepared,
    References,
    holding_patients,
    patients_named,
)
from careloop.interop.fhir.outcome import FhirError, outcome

_T = TypeVar("_T")
# Every type CareLoop creates: one left out was never created, its entry a 500.
ORDER = [
    "Patient",
    "Encounter",
    "Condition",
    "Procedure",
    "Observation",
    "DiagnosticReport",
    "Questionnaire",
    "QuestionnaireResponse",
]
STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    412: "412 Precondition Failed",
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
        if not isinstance(raw, dict):
            raise _prefixed(
                FhirError(400, "a Bundle entry must be an object", code="structure"), index
            )
        request = raw.get("request") or {}
        self.method = (request.get("method") or "").upper()
        self.url = request.get("url") or ""
        self.full_url = raw.get("fullUrl") or ""
        self.resource: dict[str, Any] = raw.get("resource") or {}
        self.if_none_exist = str(request.get("ifNoneExist") or "")
        self.if_match = str(request.get("ifMatch") or "")
        self.existing = False  # a conditional create that found its resource stored
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
        if self.method == "PUT" and (self.query or not self.instance_id):
            # A conditional update (PUT Observation?identifier=…) is not supported (the
            # CapabilityStatement does not claim it): said so, not "Observation/ is not known".
            raise _prefixed(
                FhirError(
                    400,
                    f"request.url {self.url!r}: an update names the resource it replaces "
                    f"({self.resource_type}/<id>); conditional update is not supported",
                    code="not-supported",
                ),
                index,
            )
        if self.method in ("POST", "PUT"):
            try:
                self.handler.validate(self.resource)
            except FhirError as error:
                raise _prefixed(error, index) from error
        if self.method == "POST" and self.resource_type == "Patient" and not self.full_url:
            # named so a conditional reference of another entry can resolve to it
            self.full_url = f"urn:careloop:bundle-entry:{index}"
        self.status = 0
        self.result: Any = None


def process(
    user: Any,
    bundle: dict[str, Any],
    handlers: dict[str, Handler],
    base: str,
    finish: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Carry out a transaction or batch Bundle; ``finish`` (the raw message's bookkeeping)
    runs in a transaction's own transaction, after a batch's entries."""
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
        refs = References()
        for entry in entries:
            if entry.method == "POST" and entry.resource_type == "Patient":
                refs.identify(entry.full_url, entry.resource)
        with holding_patients(partial(_patients, user, entries)):
            _match_existing(user, entries, refs)
            prepared = _prepare(user, entries, refs)
            with transaction.atomic():
                _run(user, entries, refs, prepared)
                if finish is not None:
                    finish()
        return _response(entries, "transaction-response", base)
    responses: list[dict[str, Any]] = []
    refs = References()
    for index, raw in enumerate(raw_entries):
        full_url = (raw.get("fullUrl") or "") if isinstance(raw, dict) else ""
        earlier = refs.entry(full_url)  # an earlier entry stored under the same fullUrl
        try:
            entry = Entry(index, raw, handlers)
            with holding_patients(partial(_patients, user, [entry], refs)):
                _match_existing(user, [entry], refs)
                prepared = _prepare(user, [entry], refs)
                with transaction.atomic():
                    _run(user, [entry], refs, prepared)
            if entry.method == "POST" and entry.resource_type == "Patient":
                refs.identify(entry.full_url, entry.resource)
            responses.append(_entry_response(entry, base))
        except FhirError as error:
            # Prepared, never stored: not referable; what an earlier entry stored stays so
            # (and one a conditional create found stays checked for write access).
            refs.put_back(full_url, earlier)
            responses.append(
                {
                    "response": {
                        "status": STATUS_TEXT.get(error.status, str(error.status)),
                        "outcome": outcome(error.issues),
                    }
                }
            )
    if finish is not None:
        finish()
    return {"resourceType": "Bundle", "type": "batch-response", "entry": responses}


def _patients(user: Any, entries: list[Entry], refs: References | None = None) -> list[int]:
    """The patients the entries name, those an update's stored resource belongs to (an
    update may move an Encounter or a result from one patient to another) and, in a batch,
    those an earlier entry stored that they refer to by its fullUrl (stored and committed:
    others may know them by now), and those of what a conditional create finds stored."""
    named = patients_named(
        ((e.resource_type, e.instance_id, e.resource) for e in entries if e.method != "GET"),
        refs,
    )
    matched = (
        pk
        for e in entries
        if e.method == "POST" and e.if_none_exist
        for pk in conditional.patients_matched(e.handler, user, e.if_none_exist)
    )
    return sorted({*named, *_stored_patients(user, entries), *matched})


def _match_existing(user: Any, entries: list[Entry], refs: References) -> None:
    """Conditional creates (``request.ifNoneExist``): one that finds its resource stored is
    answered 200 with it and stores nothing; later entries refer to it by its fullUrl."""
    asked: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.method != "POST" or not entry.if_none_exist:
            continue
        same = asked.setdefault((entry.resource_type, entry.if_none_exist), entry.index)
        if same != entry.index:  # both would miss, and both be created
            raise _prefixed(
                FhirError(
                    400,
                    f"request.ifNoneExist is the same as entry {same}'s: send the resource once",
                    code="duplicate",
                ),
                entry.index,
            )
        try:
            found = conditional.found(
                entry.handler, user, entry.if_none_exist, "request.ifNoneExist"
            )
        except FhirError as error:
            raise _prefixed(error, entry.index) from error
        if found is not None:
            entry.existing, entry.status, entry.result = True, 200, found
            refs.add(entry.full_url, entry.resource_type, found, stored=True)


def _stored_patients(user: Any, entries: list[Entry]) -> set[int]:
    """The patients of the stored resources the entries update. A resource without a
    patient (a Questionnaire) has none; an entry the user may not see or change is left to
    its own checks, which name it."""
    found: set[int] = set()
    for e in entries:
        if e.method != "PUT" or e.resource_type == "Patient":
            continue
        if not (e.instance_id.isascii() and e.instance_id.isdigit()):
            continue
        try:
            stored = e.handler.queryset(user)
        except FhirError:
            continue
        if not any(f.name == "patient" for f in stored.model._meta.concrete_fields):
            continue
        rows = stored.filter(pk=int(e.instance_id)).values_list("patient_id", flat=True)
        found.update(pk for pk in rows if pk)
    return found


def _groups(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """The creates by resource type, in dependency order."""
    creates = [e for e in entries if e.method == "POST" and not e.existing]
    groups = [(t, [e for e in creates if e.resource_type == t]) for t in ORDER]
    return [(t, group) for t, group in groups if group]


def _for_group(group: list[Entry], work: Callable[[], _T]) -> _T:
    """``work`` on a group of creates, its error told as the failing entry's."""
    try:
        return work()
    except FhirError as error:
        if error.item_index is not None:  # the handler says which of the group failed
            raise _prefixed(error, group[error.item_index].index) from error
        raise


def _prepare(user: Any, entries: list[Entry], refs: References) -> dict[str, Prepared]:
    """Before the write lock: the creates a handler can prepare (checked, graded, converted),
    in dependency order until the first type that can only be created inside it. Prepared
    objects are referable at once (a new Patient by the Observations after it)."""
    prepared: dict[str, Prepared] = {}
    for resource_type, group in _groups(entries):
        handler = group[0].handler
        ready = _for_group(
            group, partial(handler.prepare_many, user, [e.resource for e in group], refs)
        )
        if ready is None:
            break
        prepared[resource_type] = ready
        for entry, obj in zip(group, ready.objects or [], strict=False):
            refs.add(entry.full_url, resource_type, obj)
    return prepared


def _create(user: Any, group: list[Entry], refs: References) -> list[Any]:
    objects = []
    for entry in group:
        try:
            objects.append(entry.handler.create(user, entry.resource, refs))
        except FhirError as error:
            raise _prefixed(error, entry.index) from error
    return objects


def _run(user: Any, entries: list[Entry], refs: References, prepared: dict[str, Prepared]) -> None:
    """Inside the transaction: the creates (prepared ones only write), then reads and
    updates; the first error stops it."""
    for resource_type, group in _groups(entries):
        ready = prepared.get(resource_type)
        objects = (
            _for_group(group, ready.write) if ready is not None else _create(user, group, refs)
        )
        for entry, obj in zip(group, objects, strict=True):
            entry.status, entry.result = 201, obj
            refs.add(entry.full_url, resource_type, obj)
    for entry in entries:
        try:
            if entry.method == "PUT":
                obj = entry.handler.get(user, entry.instance_id)
                if entry.if_match:
                    served = entry.handler.served(obj)
                    versions.check_match(served, entry.if_match, "request.ifMatch")
                entry.result = entry.handler.update(user, obj, entry.resource, refs)
                entry.status = 200
            elif entry.method == "GET":
                if entry.instance_id:
                    entry.result = entry.handler.get(user, entry.instance_id)
                else:
                    entry.result = _search(user, entry)
                entry.status = 200
        except FhirError as error:
            raise _prefixed(error, entry.index) from error


PAGE_AT_MOST = 200  # a search entry's page: what _count asks, at most this (and by default)


@dataclass
class Page:
    """A search entry's answer: one page of the matches, and how many there are."""

    rows: list[Any]
    total: int
    params: QueryDict
    count: int
    offset: int


def _search(user: Any, entry: Entry) -> Page:
    params = QueryDict(entry.query)
    # no self link here to show a parameter was ignored: it is refused
    known = {*entry.handler.search_params, "_count", "_offset", "_format"}
    if unsupported := sorted(set(params) - known):
        raise FhirError(
            400,
            f"request.url: {', '.join(unsupported)} is not a search parameter "
            f"CareLoop supports on {entry.resource_type} "
            f"({', '.join(entry.handler.search_params)})",
            code="not-supported",
        )
    try:
        count = min(int(params.get("_count", PAGE_AT_MOST)), PAGE_AT_MOST)
        offset = int(params.get("_offset", 0))
    except ValueError as exc:
        raise FhirError(400, "_count and _offset must be whole numbers", code="value") from exc
    if count < 0 or offset < 0:
        raise FhirError(400, "_count and _offset cannot be negative", code="value")
    # As a search by GET: its _count and _offset, newest first, the total of all matches
    # (_count was ignored, and the total was the page's length: 200 of thousands).
    found = entry.handler.find(user, params).order_by("-pk")
    rows = list(found[offset : offset + count]) if count > 0 else []
    return Page(rows, found.count(), params, count, offset)


def _page_links(entry: Entry, page: Page, base: str) -> list[dict[str, str]]:
    kept = [
        (k, v)
        for k, values in page.params.lists()
        for v in values
        if k not in ("_count", "_offset")
    ]

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*kept, ("_count", page.count), ("_offset", at)])
        return {"relation": relation, "url": f"{base}/{entry.resource_type}?{query}"}

    links = [link("self", page.offset)]
    if page.count > 0 and page.offset + page.count < page.total:
        links.append(link("next", page.offset + page.count))
    if page.count > 0 and page.offset > 0:
        links.append(link("previous", max(0, page.offset - page.count)))
    return links


def _entry_response(entry: Entry, base: str) -> dict[str, Any]:
    response: dict[str, Any] = {"status": STATUS_TEXT[entry.status]}
    result: dict[str, Any] = {"response": response}
    if entry.method in ("POST", "PUT"):
        response["location"] = f"{entry.resource_type}/{entry.result.pk}"
    elif isinstance(entry.result, Page):
        result["resource"] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": entry.result.total,
            "link": _page_links(entry, entry.result, base),
            "entry": [
                {
                    "fullUrl": f"{base}/{entry.resource_type}/{obj.pk}",
                    "resource": entry.handler.served(obj),
                    "search": {"mode": "match"},
                }
                for obj in entry.result.rows
            ],
        }
    else:
        result["resource"] = entry.handler.served(entry.result)
    return result


def _response(entries: list[Entry], kind: str, base: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [_entry_response(e, base) for e in entries],
    }

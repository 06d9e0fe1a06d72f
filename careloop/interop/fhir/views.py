"""FHIR R4 REST at /fhir/R4: metadata, read, search, create, update, transaction/batch.

Every request needs ``Authorization: Bearer <token>`` (as /api/v1) except metadata. Every
write is stored raw first (an InboundMessage with transport "fhir"), so nothing sent is
lost even when it is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from careloop.accounts.tokens import user_for_token
from careloop.audit.services import record
from careloop.interop.fhir import bundle, conditional, versions
from careloop.interop.fhir.base import (
    Handler,
    References,
    holding_patients,
    patient_of,
    patients_named,
)
from careloop.interop.fhir.capability import capability_statement
from careloop.interop.fhir.clinical import ConditionHandler, EncounterHandler
from careloop.interop.fhir.followup import CarePlanHandler, FlagHandler, TaskHandler
from careloop.interop.fhir.outcome import FhirError, issue, outcome
from careloop.interop.fhir.patient import PatientHandler
from careloop.interop.fhir.procedures import ProcedureHandler
from careloop.interop.fhir.questionnaires import (
    QuestionnaireHandler,
    QuestionnaireResponseHandler,
)
from careloop.interop.fhir.results import DiagnosticReportHandler, ObservationHandler
from careloop.interop.models import InboundMessage
from careloop.write_gate import write_gate

HANDLERS: dict[str, Handler] = {
    h.resource_type: h
    for h in (
        PatientHandler(),
        EncounterHandler(),
        ConditionHandler(),
        ProcedureHandler(),
        ObservationHandler(),
        DiagnosticReportHandler(),
        TaskHandler(),
        CarePlanHandler(),
        FlagHandler(),
        QuestionnaireHandler(),
        QuestionnaireResponseHandler(),
    )
}
FHIR_JSON = "application/fhir+json; charset=utf-8"
logger = logging.getLogger(__name__)

DEFAULT_COUNT, MAX_COUNT = 20, 200
SERVER_FAILURE = FhirError(500, "the server failed while storing it", code="exception")


def respond(body: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=FHIR_JSON,
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/R4").rstrip("/")


def fhir_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Bearer authentication and OperationOutcome for every error."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        user = user_for_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if user is None:
            return respond(
                outcome(
                    [
                        {
                            "severity": "error",
                            "code": "login",
                            "diagnostics": "authentication required: send "
                            "Authorization: Bearer <token>",
                        }
                    ]
                ),
                401,
                WWW_Authenticate='Bearer realm="careloop"',
            )
        request.user = user
        try:
            _json_wanted(request)
            return view(request, *args, **kwargs)
        except FhirError as error:
            return respond(outcome(error.issues), error.status)
        except PermissionDenied:
            return respond(
                outcome(
                    [
                        {
                            "severity": "error",
                            "code": "forbidden",
                            "diagnostics": "you do not have permission to do this",
                        }
                    ]
                ),
                403,
            )
        except Http404:
            return respond(outcome([issue("not found", code="not-found")]), 404)
        except Exception:
            # A defect of ours: logged with its traceback, and answered as FHIR (a client
            # reads an OperationOutcome, not the staff pages' HTML error page).
            logger.exception("FHIR %s %s failed", request.method, request.path)
            return respond(outcome(SERVER_FAILURE.issues), 500)

    return wrapper


# What a FHIR JSON body may be sent as (FHIR's own type, plain JSON, and the DSTU2 spelling
# some older clients still send).
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def _body(request: HttpRequest) -> Any:
    if request.body and request.content_type not in JSON_TYPES:
        raise FhirError(
            415,
            f"Content-Type {request.content_type or '(none)'} is not accepted: "
            "send the resource as application/fhir+json",
            code="not-supported",
        )
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirError(400, f"the body is not JSON: {exc}", code="structure") from exc
    except RecursionError as exc:  # [[[[…]]]] thousands deep: it was a 500
        raise FhirError(400, "the body is nested too deeply to be read", code="structure") from exc
    if _deeper_than(data, MAX_DEPTH):  # validating it recursed past Python's limit: a 500
        raise FhirError(
            400,
            f"the body is nested too deeply to be read (more than {MAX_DEPTH} levels)",
            code="structure",
        )
    return data


# No resource CareLoop reads nests this deep (a questionnaire's items some ten levels);
# extensions of extensions 100 deep made the FHIR classes' validation exceed Python's
# recursion limit.
MAX_DEPTH = 64


def _deeper_than(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _handler(resource_type: str) -> Handler:
    handler = HANDLERS.get(resource_type)
    if handler is None:
        raise FhirError(
            404,
            f"{resource_type} is not a resource type CareLoop serves ({', '.join(HANDLERS)})",
            code="not-supported",
        )
    return handler


def _store_raw(request: HttpRequest, kind: str) -> InboundMessage:
    with write_gate():
        return InboundMessage.objects.create(
            transport=InboundMessage.Transport.FHIR,
            peer=request.META.get("REMOTE_ADDR", "")[:100],
            raw=request.body,
            encoding="utf-8",
            message_type=kind[:20],
            status=InboundMessage.Status.PROCESSING,
            claimed_at=timezone.now(),
        )


def _finish(
    message: InboundMessage,
    error: FhirError | None,
    patient_id: int | None = None,
    *,
    failed: bool = False,
) -> None:
    """The raw message's outcome: processed, rejected (the sender's error) or failed (ours:
    the body is kept for reprocessing)."""
    message.status = (
        InboundMessage.Status.PROCESSED
        if error is None
        else InboundMessage.Status.FAILED
        if failed
        else InboundMessage.Status.REJECTED
    )
    message.accepted = error is None
    message.error = (
        "; ".join(i.get("diagnostics", "") for i in error.issues)[:2000] if error else ""
    )
    message.processed_at = timezone.now()
    message.attempts = 1
    message.patient_id = patient_id
    with write_gate():
        message.save(
            update_fields=["status", "accepted", "error", "processed_at", "attempts", "patient"]
        )


@csrf_exempt  # nothing is changed here: any other method is a FHIR 405, not a CSRF page
def metadata(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        text = f"{request.method} is not supported on metadata (GET the CapabilityStatement)"
        return respond(outcome([issue(text, code="not-supported")]), 405, Allow="GET, HEAD")
    try:  # asked for XML (_format=xml, Accept: application/fhir+xml), it was answered JSON
        _json_wanted(request)
    except FhirError as error:
        return respond(outcome(error.issues), error.status)
    return respond(capability_statement(base_url(request)))


@fhir_view
def root(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise FhirError(405, "POST a transaction or batch Bundle here", code="not-supported")
    message = _store_raw(request, "Bundle")
    try:
        data = _body(request)
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            raise FhirError(400, "expected a Bundle", code="structure")
        result = bundle.process(
            request.user,
            data,
            HANDLERS,
            base_url(request),
            finish=lambda: _finish(message, None),
        )
    except FhirError as error:
        _finish(message, error)
        raise
    except Exception:
        _finish(message, SERVER_FAILURE, failed=True)
        raise
    return respond(result)


@fhir_view
def type_endpoint(request: HttpRequest, resource_type: str) -> HttpResponse:
    handler = _handler(resource_type)
    if request.method in (
        "GET",
        "HEAD",
    ):  # HEAD: the headers of the GET (the server drops the body)
        return search(request, handler)
    if request.method != "POST":
        raise FhirError(
            405, f"{request.method} is not supported on {resource_type}", code="not-supported"
        )
    message = _store_raw(request, f"{resource_type} create")
    query = request.headers.get("If-None-Exist", "") or _url_condition(request)
    try:
        data = handler.validate(_body(request))

        def concerned() -> list[int]:
            # Asked again once held: a conditional reference may name someone new by then.
            named = patients_named([(resource_type, "", data)])
            return [*named, *conditional.patients_matched(handler, request.user, query)]

        with holding_patients(concerned), transaction.atomic():
            found = (
                conditional.found(handler, request.user, query, "If-None-Exist") if query else None
            )
            obj = found or handler.create(request.user, data, References())
    except FhirError as error:
        _finish(message, error)
        raise
    except Exception:
        _finish(message, SERVER_FAILURE, failed=True)
        raise
    _finish(
        message,
        None,
        patient_of(resource_type, obj),
    )
    body = handler.served(_as_stored(handler, request.user, obj))
    # The version created, as FHIR's create asks: [base]/[type]/[id]/_history/[vid].
    version = body["meta"]["versionId"]
    location = f"{base_url(request)}/{resource_type}/{obj.pk}/_history/{version}"
    return _written(
        request, body, 200 if found else 201, Location=location, ETag=versions.etag(body)
    )


def _url_condition(request: HttpRequest) -> str:
    """A create's search parameters in its URL (``POST Patient?identifier=…``): the
    conditional create of fhirpy's ``get_or_create`` and ``create(**search)`` (and Aidbox),
    taken as ``If-None-Exist``. They were ignored, so a resent result was stored again and
    answered 201 as new."""
    return urlencode(
        [(k, v) for k, values in request.GET.lists() if k not in URL_ONLY for v in values]
    )


# Parameters of the request itself, not of a search (a create's URL may carry them).
URL_ONLY = {"_format", "_pretty"}


def _as_stored(handler: Handler, user: Any, obj: Any) -> Any:
    """``obj`` read back as a read serves it, so the version (``meta.versionId``, the ETag)
    answered to a create is the one an update's ``If-Match`` is checked against: served
    from memory, its times were in the sender's offset (+08:00), read back in UTC, so an
    update with the create's ETag was refused 412."""
    try:
        return handler.get(user, str(obj.pk))
    except FhirError:  # created where the token cannot read (another organisation's)
        return obj


@fhir_view
def search_endpoint(request: HttpRequest, resource_type: str) -> HttpResponse:
    """``POST [type]/_search``: the search's parameters in a form body (and the URL), as FHIR
    asks of every server that searches by GET."""
    handler = _handler(resource_type)
    if request.method not in ("POST", "GET", "HEAD"):
        raise FhirError(
            405,
            f"{request.method} is not supported on {resource_type}/_search",
            code="not-supported",
        )
    if request.method != "POST":
        return search(request, handler)
    if request.body and request.content_type != "application/x-www-form-urlencoded":
        raise FhirError(
            415,
            f"Content-Type {request.content_type or '(none)'} is not accepted: send the search's "
            "parameters as application/x-www-form-urlencoded",
            code="not-supported",
        )
    params = request.GET.copy()
    for name, values in request.POST.lists():
        for value in values:
            params.appendlist(name, value)
    return search(request, handler, params)


@fhir_view
def not_served(request: HttpRequest) -> HttpResponse:
    path = request.path.removeprefix("/fhir/R4/")
    if "/_history" in f"/{path}":
        text = (
            f"{path}: earlier versions are not kept, so there is no history; read the "
            "resource for its current version (meta.versionId)"
        )
    else:
        text = (
            f"{path} is not a FHIR interaction CareLoop serves (see {base_url(request)}/metadata)"
        )
    raise FhirError(404, text, code="not-supported")


def _current(handler: Handler, obj: Any) -> HttpResponse:
    body = handler.served(obj)
    return respond(body, ETag=versions.etag(body))


@fhir_view
def version_endpoint(
    request: HttpRequest, resource_type: str, pk: str, version: str
) -> HttpResponse:
    """vread: the current version only (earlier ones are not kept)."""
    handler = _handler(resource_type)
    if request.method not in ("GET", "HEAD"):
        raise FhirError(405, "a version can only be read", code="not-supported")
    obj = handler.get(request.user, pk)
    body = handler.served(obj)
    if body["meta"]["versionId"] != version:
        raise FhirError(
            404,
            f"{resource_type}/{pk} version {version!r} is not kept; the current version is "
            f"{body['meta']['versionId']}",
            code="not-found",
        )
    record(
        request.user,
        "view",
        resource_type.lower(),
        obj.pk,
        patient_id=patient_of(resource_type, obj),
    )
    return respond(body, ETag=versions.etag(body))


@fhir_view
def instance_endpoint(request: HttpRequest, resource_type: str, pk: str) -> HttpResponse:
    handler = _handler(resource_type)
    obj = handler.get(request.user, pk)
    patient_id = patient_of(resource_type, obj)
    if request.method in ("GET", "HEAD"):
        record(request.user, "view", resource_type.lower(), obj.pk, patient_id=patient_id)
        return _current(handler, obj)
    if request.method != "PUT":
        raise FhirError(
            405, f"{request.method} is not supported on {resource_type}/{pk}", code="not-supported"
        )
    message = _store_raw(request, f"{resource_type} update")
    try:
        data = handler.validate(_body(request))
        if data.get("id") not in (None, pk):
            raise FhirError(
                400,
                f"the resource id {data.get('id')!r} is not {pk!r}",
                code="value",
                expression=[f"{resource_type}.id"],
            )
        # The stored resource's patient, and the one the new version names (if another);
        # the stored one read again once held (a write meanwhile may have moved it).
        named = patients_named([(resource_type, pk, data)])
        stored = [obj]

        def concerned() -> set[int]:
            stored[0] = handler.get(request.user, pk)
            now = patient_of(resource_type, stored[0])
            return {*named, now} if now else set(named)

        with holding_patients(concerned), transaction.atomic():
            patient_id = patient_of(resource_type, stored[0])
            if_match = request.headers.get("If-Match", "")
            if if_match:  # against the resource as it is now, inside the write
                stored[0] = handler.get(request.user, pk)
                versions.check_match(handler.served(stored[0]), if_match, "If-Match")
            obj = handler.update(request.user, stored[0], data, References())
    except FhirError as error:
        _finish(message, error, patient_id)
        raise
    except Exception:
        _finish(message, SERVER_FAILURE, patient_id, failed=True)
        raise
    _finish(message, None, patient_id)
    body = handler.served(handler.get(request.user, pk))
    return _written(request, body, 200, ETag=versions.etag(body))


def _written(
    request: HttpRequest, body: dict[str, Any], status: int, **headers: str
) -> HttpResponse:
    """A create's or update's answer as ``Prefer: return=`` asks (FHIR: servers SHOULD
    honour it; it was ignored, the resource always sent): ``minimal`` no body,
    ``OperationOutcome`` one saying what was done, ``representation`` (the default) the
    resource as stored."""
    wanted = _return_preference(request)
    if wanted == "minimal":
        response = HttpResponse(status=status, content_type=FHIR_JSON)
        for name, value in headers.items():
            response[name.replace("_", "-")] = value
        return response
    if wanted == "operationoutcome":
        done = (
            "created" if status == 201 else "already stored" if "Location" in headers else "updated"
        )
        text = f"{body['resourceType']}/{body['id']} {done} (version {body['meta']['versionId']})"
        return respond(
            outcome([issue(text, code="informational", severity="information")]), status, **headers
        )
    return respond(body, status, **headers)


def _return_preference(request: HttpRequest) -> str:
    """The ``return`` of the ``Prefer`` header, lower case ("" when not sent)."""
    for part in request.headers.get("Prefer", "").replace(";", ",").split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "return":
            return value.strip().strip('"').lower()
    return ""


# Result parameters understood on every search (_summary: count and false only; _format:
# JSON only).
RESULT_PARAMS = {"_count", "_offset", "_format", "_summary"}
JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}


def _json_wanted(request: HttpRequest) -> None:
    """406 when the client asks for a format other than JSON: by ``_format`` on any
    interaction (a read with ``_format=xml`` was answered JSON, only a search refused it), or
    by an ``Accept`` header that takes no JSON (``application/fhir+xml`` alone)."""
    formats = request.GET.getlist("_format")
    if any(v.split(";")[0].strip() not in JSON_FORMATS for v in formats):
        raise FhirError(
            406,
            f"_format {formats[0]!r}: CareLoop serves FHIR as JSON only",
            code="not-supported",
            expression=["_format"],
        )
    accept = request.headers.get("Accept", "").strip()
    if not accept or formats:  # _format overrides Accept
        return
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if not any(k in JSON_FORMATS or k in ("*/*", "application/*") for k in kinds):
        raise FhirError(
            406,
            f"Accept {accept!r}: CareLoop serves FHIR as JSON only (application/fhir+json)",
            code="not-supported",
        )


def _strict(request: HttpRequest) -> bool:
    """``Prefer: handling=strict``: an unknown or unsupported search parameter is an error
    (lenient, the default: it is ignored and left out of the self link, as FHIR says)."""
    prefer = request.headers.get("Prefer", "")
    return any(
        part.strip().replace(" ", "").lower() == "handling=strict"
        for part in prefer.replace(";", ",").split(",")
    )


def _unsupported(request: HttpRequest, handler: Handler, params: QueryDict) -> list[str]:
    """The search's parameters CareLoop does not support on this type (a chain such as
    ``subject:Patient.identifier``, a modifier, ``_sort``, ``_include``, ``_summary=true``)."""
    if any(v.split(";")[0].strip() not in JSON_FORMATS for v in params.getlist("_format")):
        # a POST _search's _format in its body (one in the URL was refused before the view)
        raise FhirError(
            406,
            f"_format {params.get('_format')!r}: CareLoop serves FHIR as JSON only",
            code="not-supported",
            expression=["_format"],
        )
    known = {*handler.search_params, *RESULT_PARAMS}
    unsupported = sorted(name for name in params if name not in known)
    if any(v not in ("count", "false") for v in params.getlist("_summary")):
        unsupported.append("_summary")
    if unsupported and _strict(request):
        raise FhirError(
            400,
            f"{', '.join(unsupported)}: not a search parameter CareLoop supports on "
            f"{handler.resource_type} ({', '.join(handler.search_params)}, _count, _offset, "
            "_summary=count)",
            code="not-supported",
            expression=unsupported,
        )
    return unsupported


def search(request: HttpRequest, handler: Handler, given: QueryDict | None = None) -> HttpResponse:
    """A search of ``given`` (by default the URL's query)."""
    given = request.GET if given is None else given
    ignored = _unsupported(request, handler, given)
    params = given.copy()
    for name in ignored:  # not applied, so neither in the links
        params.pop(name, None)
    if params.get("_summary") == "count":  # the total alone
        params.setlist("_count", ["0"])
    try:
        count = min(int(params.get("_count", DEFAULT_COUNT)), MAX_COUNT)
        offset = int(params.get("_offset", 0))
    except ValueError as exc:
        raise FhirError(400, "_count and _offset must be whole numbers", code="value") from exc
    if count < 0 or offset < 0:
        raise FhirError(400, "_count and _offset cannot be negative", code="value")
    queryset = handler.find(request.user, params).order_by("-pk")
    total = queryset.count()
    page = list(queryset[offset : offset + count]) if count > 0 else []
    record(
        request.user,
        "search",
        handler.resource_type.lower(),
        summary=f"FHIR search ({len(page)} of {total})",
    )
    base = base_url(request)
    kept = [
        (k, v) for k, values in params.lists() for v in values if k not in ("_count", "_offset")
    ]

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*kept, ("_count", count), ("_offset", at)])
        return {"relation": relation, "url": f"{base}/{handler.resource_type}?{query}"}

    links = [link("self", offset)]
    if count > 0 and offset + count < total:  # _count=0 asks for the total alone: no pages
        links.append(link("next", offset + count))
    if count > 0 and offset > 0:
        links.append(link("previous", max(0, offset - count)))
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base}/{handler.resource_type}/{obj.pk}",
            "resource": handler.served(obj),
            "search": {"mode": "match"},
        }
        for obj in page
    ]
    if ignored:
        warning = (
            f"ignored {', '.join(ignored)}: not a search parameter CareLoop supports on "
            f"{handler.resource_type} (send Prefer: handling=strict to have it refused)"
        )
        entries.append(
            {
                "resource": outcome(
                    [{"severity": "warning", "code": "not-supported", "diagnostics": warning}]
                ),
                "search": {"mode": "outcome"},
            }
        )
    return respond(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": entries,
        }
    )

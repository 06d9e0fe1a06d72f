"""The JSON API at /api/v1/ (django-ninja): bearer tokens, one error format everywhere.

Errors are ``{"detail": "...", "errors": [{"field": "id_number", "message": "..."}]}``:
400 malformed request, 401 no or bad token, 403 not allowed, 404 not found (or not visible;
also an address the API does not have), 405 a method the address does not take, 409
duplicate, 422 invalid data (careloop.api_middleware answers the 404 and 405 of addresses).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.security import HttpBearer

from careloop.accounts.tokens import user_for_token
from careloop.analytics.scope import ScopeError
from careloop.patients.services import DuplicatePatientError
from careloop.patients.validation import PatientDataError


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


class ExistingRef(Schema):
    id: int
    card_number: str
    url: str


class DuplicateOut(Schema):
    detail: str
    field: str
    existing: ExistingRef | None = None


ERROR_RESPONSES: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
}


class TokenAuth(HttpBearer):
    """``Authorization: Bearer cl_…`` (see ``careloop apitoken create``)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class LocalSwagger(Swagger):
    """The Swagger page from django-ninja's own files (found by settings.NINJA_DIR), never
    from a CDN: django-ninja picks its CDN page when it is not an installed app, and
    CareLoop runs offline behind a content security policy."""

    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": False,  # bearer tokens, no session: nothing for CSRF to protect
        }
        return render(request, self.template, context)


api = NinjaAPI(
    title="CareLoop API",
    version="1",
    description="CareLoop (随访) JSON API. Authenticate with `Authorization: Bearer <token>`; "
    "create a token with `careloop apitoken create USERNAME`.",
    urls_namespace="api",
    auth=TokenAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs=LocalSwagger(),
)

_PYDANTIC_MESSAGES = {
    "missing": gettext_noop("This field is required."),
    "date_from_datetime_parsing": gettext_noop("Enter a date as YYYY-MM-DD."),
    "date_parsing": gettext_noop("Enter a date as YYYY-MM-DD."),
    "date_type": gettext_noop("Enter a date as YYYY-MM-DD."),
    "time_parsing": gettext_noop("Enter a time as HH:MM."),
    "time_type": gettext_noop("Enter a time as HH:MM."),
    "string_type": gettext_noop("Must be text."),
    "bool_parsing": gettext_noop("Must be true or false."),
    "bool_type": gettext_noop("Must be true or false."),
    "int_parsing": gettext_noop("Must be a whole number."),
    "int_type": gettext_noop("Must be a whole number."),
    "list_type": gettext_noop("Must be a list."),
    "model_type": gettext_noop("Must be an object."),
    "dict_type": gettext_noop("Must be an object."),
    "literal_error": gettext_noop("Choose one of: %(expected)s."),
    "enum": gettext_noop("Choose one of: %(expected)s."),
    "string_too_long": gettext_noop("At most %(max_length)s characters."),
    "string_too_short": gettext_noop("At least %(min_length)s characters."),
    "string_pattern_mismatch": gettext_noop("Not in the expected format."),
    "less_than_equal": gettext_noop("At most %(le)s."),
    "less_than": gettext_noop("Less than %(lt)s."),
    "greater_than_equal": gettext_noop("At least %(ge)s."),
    "greater_than": gettext_noop("More than %(gt)s."),
    "float_parsing": gettext_noop("Must be a number."),
    "float_type": gettext_noop("Must be a number."),
    "finite_number": gettext_noop("Must be a finite number."),
    "datetime_parsing": gettext_noop("Enter a date and time as YYYY-MM-DDTHH:MM."),
    "datetime_from_date_parsing": gettext_noop("Enter a date and time as YYYY-MM-DDTHH:MM."),
    "datetime_type": gettext_noop("Enter a date and time as YYYY-MM-DDTHH:MM."),
}


def page_of(
    queryset: Any, page: int, page_size: int, limit: int = 200
) -> tuple[list[Any], int, int]:
    """One page of a list endpoint: (items, total count, page size used); a page past the
    end is empty, not an error."""
    size = max(1, min(page_size, limit))
    paginator = Paginator(queryset, size)
    try:
        items = list(paginator.page(max(page, 1)).object_list)
    except EmptyPage:
        items = []
    return items, paginator.count, size


def page_links(
    request: HttpRequest, page: int, size: int, count: int
) -> tuple[str | None, str | None]:
    """The ``next`` and ``previous`` pages' addresses of a list, with the same filters
    (None past either end), as the patient list gives them."""
    last = max(1, -(-count // size))

    def link(number: int) -> str:
        query = request.GET.copy()
        query["page"], query["page_size"] = str(number), str(size)
        return f"{request.path}?{query.urlencode()}"

    return (
        link(page + 1) if page < last else None,
        link(page - 1) if 1 < page <= last else None,
    )


def _field_name(loc: list[Any]) -> str:
    # ("body", "payload", "contacts", 0, "phone") → "contacts[0].phone"
    # Union branches appear in the location as tags such as "literal['a','b']": not fields.
    parts = [
        p
        for p in loc
        if p not in ("body", "payload", "query", "path")
        and not (isinstance(p, str) and ("[" in p or "(" in p))
    ]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def error_response(
    request: HttpRequest, status: int, detail: str, errors: dict[str, list[str]] | None = None
) -> HttpResponse:
    body = {
        "detail": detail,
        "errors": [
            {"field": field, "message": message}
            for field, messages in (errors or {}).items()
            for message in messages
        ],
    }
    return api.create_response(request, body, status=status)


@api.get("/", auth=None, include_in_schema=False)
def root(request: HttpRequest) -> dict[str, str]:
    """Where an integrator pointing at the API's base address finds its way on."""
    return {
        "name": "CareLoop API",
        "version": "1",
        "openapi": request.build_absolute_uri("openapi.json"),
        "docs": request.build_absolute_uri("docs"),
        "fhir": request.build_absolute_uri("/fhir/R4"),
    }


@api.exception_handler(ValidationError)
def on_schema_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        if item.get("type") == "json_invalid" or "json" in str(item.get("msg", "")).lower():
            return error_response(request, 400, _("The request body is not valid JSON."))
        message = _PYDANTIC_MESSAGES.get(item.get("type", ""))
        text = str(item.get("msg", "invalid"))
        if message:
            try:
                text = _(message) % dict(item.get("ctx") or {})
            except (KeyError, TypeError, ValueError):
                text = _(message)
        errors.setdefault(_field_name(list(item.get("loc", []))), []).append(text)
    return error_response(request, 422, _("Some fields are not valid."), errors)


@api.exception_handler(PatientDataError)
def on_patient_data_error(request: HttpRequest, exc: PatientDataError) -> HttpResponse:
    return error_response(request, 422, _("Some fields are not valid."), exc.errors)


@api.exception_handler(DuplicatePatientError)
def on_duplicate(request: HttpRequest, exc: DuplicatePatientError) -> HttpResponse:
    from careloop.patients.services import duplicate_explanation

    detail, existing = duplicate_explanation(request.user, exc)
    body = {
        "detail": detail,
        "field": exc.field,
        "existing": {
            "id": existing.pk,
            "card_number": existing.card_number,
            "url": f"/api/v1/patients/{existing.pk}",
        }
        if existing
        else None,
    }
    return api.create_response(request, body, status=409)


class InvalidFields(Exception):
    """Fields of a request body that are not valid, by name: a 422 listing each (``detail``
    says it in a sentence where one field's message says it all)."""

    def __init__(self, errors: dict[str, list[str]], detail: str = "") -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors
        self.detail = detail


def invalid_field(field: str, message: str) -> InvalidFields:
    """One field not valid: the message as ``detail`` and under the field's name."""
    return InvalidFields({field: [message]}, detail=message)


@api.exception_handler(InvalidFields)
def on_invalid_fields(request: HttpRequest, exc: InvalidFields) -> HttpResponse:
    return error_response(request, 422, exc.detail or _("Some fields are not valid."), exc.errors)


@api.exception_handler(ScopeError)
def on_scope_error(request: HttpRequest, exc: ScopeError) -> HttpResponse:
    return error_response(request, 422, _("Some fields are not valid."), {exc.field: [exc.message]})


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # The same answer whether the object does not exist or is another organisation's.
    return error_response(request, 404, _("Not found, or not visible to you."))


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, _("You do not have permission to do this."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return on_unauthenticated(request, exc)
    if exc.status_code == 400:
        # django-ninja's only 400 is a body it cannot parse.
        return error_response(request, 400, _("The request body is not valid JSON."))
    return error_response(request, exc.status_code, str(exc))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request, 401, _("Authentication required: send Authorization: Bearer <token>.")
    )
    response["WWW-Authenticate"] = 'Bearer realm="careloop"'
    return response


def _register_routers() -> None:
    from careloop.analytics.api import router as metrics_router
    from careloop.care.api import router as reports_router
    from careloop.followup.api import router as alerts_router
    from careloop.followup.tasks_api import router as tasks_router
    from careloop.patients.api import router as patients_router

    api.add_router("/patients", patients_router, tags=["patients"])
    api.add_router("/patients", reports_router, tags=["patients"])
    api.add_router("/alerts", alerts_router, tags=["alerts"])
    api.add_router("/tasks", tasks_router, tags=["tasks"])
    api.add_router("/metrics", metrics_router, tags=["metrics"])


_register_routers()

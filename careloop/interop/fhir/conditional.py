"""Conditional create: FHIR's ``If-None-Exist`` header and a Bundle entry's
``request.ifNoneExist``. A create whose query matches one stored resource the user may read
is answered with that resource (200 OK, nothing stored), so a resent message does not store
a second copy; more than one match is 412. The query is a search of the type's own
parameters: any other parameter is refused (400) rather than ignored, as an ignored
parameter would match everything. It may be written as the search's URL (``Patient?identifier=
…``, as many senders and FHIR's own examples do) as well as its parameters alone."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from careloop.audit.services import record
from careloop.interop.fhir import codes
from careloop.interop.fhir.base import Handler, patient_of, token
from careloop.interop.fhir.outcome import FhirError
from careloop.interop.fhir.patient import kept_identifier


def existing(handler: Handler, user: Any, query: str, where: str) -> Any | None:
    """The one stored resource ``query`` matches, or None when there is none."""
    params = QueryDict(_parameters(handler, query, where))
    if not params:
        raise FhirError(400, f"{where}: the search query is empty", code="invalid")
    unknown = sorted(set(params) - set(handler.search_params))
    if unknown:
        raise FhirError(
            400,
            f"{where}: {', '.join(unknown)} is not a search parameter of {handler.resource_type} "
            f"(known: {', '.join(handler.search_params)})",
            code="not-supported",
        )
    empty = sorted({name for name, values in params.lists() if not all(v.strip() for v in values)})
    if empty:  # an empty value is ignored by a search, so it would match more than meant
        raise FhirError(400, f"{where}: {', '.join(empty)} has no value", code="value")
    if handler.resource_type == "Patient":  # it decides whose record later entries write to
        if set(params) != {"identifier"}:
            raise FhirError(
                400,
                f"{where}: a Patient is found by identifier only (identifier=system|value)",
                code="not-supported",
            )
        for value in params.getlist("identifier"):
            kept_identifier(value, where, 400)
    if handler.resource_type == "Encounter":
        # The visit number is kept without the sender's system and served under ours: a
        # search by another system matches nothing, so the create would store a copy.
        for value in params.getlist("identifier"):
            if token(value)[0] not in (None, codes.VISIT):
                raise FhirError(
                    400,
                    f"{where}: an Encounter's identifier is searched as value or "
                    f"{codes.VISIT}|value (CareLoop keeps the visit number, not its "
                    f"system), not {value!r}",
                    code="not-supported",
                )
    found = list(handler.find(user, params).order_by("pk")[:2])
    if len(found) > 1:
        raise FhirError(
            412,
            f"{where}: more than one {handler.resource_type} matches {query!r}",
            code="multiple-matches",
        )
    return found[0] if found else None


def _parameters(handler: Handler, query: str, where: str) -> str:
    """The search parameters of ``query``, also when it is sent as a search URL
    (``Patient?identifier=…`` or ``[base]/Patient?…``: it was refused, "Patient?identifier is
    not a search parameter"); one of another type is refused."""
    path, mark, rest = query.partition("?")
    if not mark or "=" in path:  # the parameters alone (a "?" within a value)
        return query
    named = path.rstrip("/").rsplit("/", 1)[-1]
    if named and named != handler.resource_type:
        raise FhirError(
            400,
            f"{where}: {query!r} searches {named}, not {handler.resource_type}",
            code="invalid",
        )
    return rest


def patients_matched(handler: Handler, user: Any, query: str) -> list[int]:
    """The patient of what ``query`` matches, to hold while the create is decided (its
    errors are told when the create is read)."""
    try:
        found = existing(handler, user, query, "") if query else None
    except FhirError:
        return []
    pk = patient_of(handler.resource_type, found) if found is not None else None
    return [pk] if pk else []


def found(handler: Handler, user: Any, query: str, where: str) -> Any | None:
    """:func:`existing`, audited as a read: its data is sent back instead of a new one's."""
    obj = existing(handler, user, query, where)
    if obj is not None:
        record(
            user,
            "view",
            handler.resource_type.lower(),
            obj.pk,
            patient_id=patient_of(handler.resource_type, obj),
            summary="FHIR conditional create: found",
        )
    return obj

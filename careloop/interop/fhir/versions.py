"""Resource versions for FHIR clients: ``meta.versionId``, the ``ETag`` header, ``If-Match``
on an update and ``_history/<version>`` reads.

A version is a digest of the resource as served (without its versionId), so any change by any
path — a form, an HL7 message, an import, another FHIR client — gives a new one with nothing
stored or kept in step. CareLoop keeps no earlier versions: a read of one that is not the
current one is a 404 naming the current version, and an update sent with the ``If-Match`` of
an older one is refused with 412 (the client read a resource someone has changed since)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from careloop.interop.fhir.outcome import FhirError


def version_of(resource: dict[str, Any]) -> str:
    body = dict(resource)
    meta = {k: v for k, v in (body.get("meta") or {}).items() if k != "versionId"}
    if meta:
        body["meta"] = meta
    else:
        body.pop("meta", None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def stamped(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with its ``meta.versionId``."""
    resource["meta"] = {**(resource.get("meta") or {}), "versionId": version_of(resource)}
    return resource


def etag(resource: dict[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def wanted(header: str) -> str:
    """The version an ``If-Match`` header (or a Bundle entry's ``request.ifMatch``) names:
    W/"v", "v" or v."""
    value = header.strip()
    value = value[2:] if value.startswith(("W/", "w/")) else value
    return value.strip('"')


def check_match(current: dict[str, Any], header: str, where: str) -> None:
    """412 when ``header`` names another version than ``current``'s."""
    if not header or header.strip() == "*":  # "*": whatever version is there
        return
    version = current["meta"]["versionId"]
    named = [wanted(part) for part in header.split(",")]
    if version not in named:
        raise FhirError(
            412,
            f"{where}: version {', '.join(named)!r} is not the current one ({version}); "
            "read the resource again and apply the change to it",
            code="conflict",
        )

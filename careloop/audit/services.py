"""Writing to the audit log. Every do_* that touches personal data calls record() itself."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from careloop.audit.context import current_origin
from careloop.audit.models import AuditEvent


def changes_between(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for the fields whose value differs (values must be JSON-able)."""
    return {
        key: [old.get(key), new.get(key)]
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def record(
    actor: Any,
    action: str,
    object_type: str = "",
    object_id: object = "",
    *,
    patient_id: int | None = None,
    summary: str = "",
    changes: Mapping[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one event. ``actor`` is a staff user or None (system, command line)."""
    origin = current_origin()
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        at=timezone.now(),
        actor=user,
        actor_label=actor_label or (user.get_username() if user else origin.via),
        organisation_id=getattr(user, "organisation_id", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        patient_id=patient_id,
        summary=summary[:200],
        changes=dict(changes or {}),
        via=origin.via,
        ip=origin.ip,
        user_agent=origin.user_agent,
    )
    fields, sql = _insert(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
        )
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, "default"
    return event


@functools.cache
def _insert(vendor: str) -> tuple[list[Field], str]:
    """The audit row's INSERT … RETURNING, with its fields in order. Written out once: an
    event is recorded with almost every request (each page view of personal data), and
    ``objects.create`` spent ~0.3 ms of Python building the statement each time; the values
    are converted by the fields themselves (``get_db_prep_save``), as the ORM does (not
    ``bulk.create_instances``: for one row its PostgreSQL path is two round trips, and it
    takes values as they are, where an empty IP address must go as NULL)."""
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    return fields, (
        f"INSERT INTO {quote(AuditEvent._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote('id')}"
    )

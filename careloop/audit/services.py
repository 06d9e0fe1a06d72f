"""Writing to the audit log. Every do_* that touches personal data calls record() itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    return AuditEvent.objects.create(
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

"""A death an interface reports (an HL7 ADT's PID-29/30 or PV1-36, a FHIR Encounter ended
by death): recorded on the patient, audited, and their running plans stopped, so no one is
called for a follow-up that can no longer happen."""

from __future__ import annotations

from datetime import date
from typing import Any


def record_death(
    patient: Any, on: date, *, summary: str, actor: Any = None, actor_label: str = ""
) -> bool:
    """Record that ``patient`` died ``on``; False when a death is on the record already."""
    from careloop.audit.services import record
    from careloop.followup.models import Plan
    from careloop.followup.planning import stop_patient_plans

    if patient.deceased_on is not None:
        return False
    patient.deceased_on = on
    patient.save(update_fields=["deceased_on", "updated_at"])
    record(
        actor,
        "update",
        "patient",
        patient.pk,
        patient_id=patient.pk,
        actor_label=actor_label,
        summary=summary,
        changes={"deceased_on": [None, on.isoformat()]},
    )
    stop_patient_plans(patient, Plan.StopReason.DECEASED, actor)
    return True

"""ADT events about a stay already known by its visit number (PV1-19): A02 transfer, A11
cancel admission, A13 cancel discharge.

A cancelled admission keeps its stay, marked cancelled (never deleted: results and notes
may point at it); a cancelled discharge puts the stay back in progress and stops what the
discharge enrolled (post-discharge pathways), their open tasks cancelled, done ones kept. A
plan stopped so does not stand in the way of the stay's real discharge later
(``planning.UNDONE``).
"""

from __future__ import annotations

from typing import Any

from careloop.audit.services import record
from careloop.clinical.models import Encounter
from careloop.followup.models import Plan
from careloop.followup.planning import stop_plan
from careloop.interop.hl7.message import HL7Error
from careloop.interop.hl7.read import Visit


def unknown_visit(number: str) -> HL7Error:
    """AE 204 naming PV1-19: no stay of this patient has the visit number."""
    return HL7Error(
        f"PV1-19: no stay of this patient has the visit number {number!r}",
        code=204,
        segment="PV1",
        sequence=1,
        field=19,
    )


def unknown_prior() -> HL7Error:
    """AE 204 naming MRG-1: no enrolled patient has the prior patient's identifiers."""
    return HL7Error(
        "MRG-1: no patient is known by the prior patient identifier",
        code=204,
        segment="MRG",
        sequence=1,
        field=1,
    )


def stay_event(patient: Any, event: str, visit: Visit, actor_label: str) -> None:
    stay = (
        Encounter.objects.select_for_update()
        .filter(patient=patient, visit_number=visit.visit_number[:50])
        .first()
    )
    if stay is None:
        raise unknown_visit(visit.visit_number)
    if event == "A02":
        _transfer(stay, visit, actor_label)
    elif event == "A11":
        _cancel(stay, actor_label)
    else:
        _undo_discharge(stay, actor_label)


def _transfer(stay: Encounter, visit: Visit, actor_label: str) -> None:
    before = {"department": stay.department, "location": stay.location}
    if visit.department:
        stay.department = visit.department[:50]
    if visit.location:
        stay.location = visit.location[:100]
    after = {"department": stay.department, "location": stay.location}
    stay.save(update_fields=["department", "location"])
    prior = visit.prior_location or before["location"] or before["department"]
    record(
        None,
        "update",
        "encounter",
        stay.pk,
        patient_id=stay.patient_id,
        actor_label=actor_label,
        summary=f"转科/转床（ADT^A02）：{prior or '—'} → {stay.location or stay.department}",
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]}
        | ({"prior_location": visit.prior_location} if visit.prior_location else {}),
    )


def _stop_plans_of(stay: Encounter, reason: str, actor_label: str) -> int:
    """The active plans this stay enrolled (trigger_ref ``encounter:<pk>``) stopped."""
    cancelled = 0
    for plan in Plan.objects.filter(
        patient_id=stay.patient_id, trigger_ref=f"encounter:{stay.pk}", status=Plan.Status.ACTIVE
    ):
        cancelled += stop_plan(plan, reason, note=actor_label)
    return cancelled


def _cancel(stay: Encounter, actor_label: str) -> None:
    if stay.status == Encounter.Status.CANCELLED:
        return  # sent again
    before = stay.status
    stay.status = Encounter.Status.CANCELLED
    stay.save(update_fields=["status"])
    cancelled = _stop_plans_of(stay, Plan.StopReason.ADMISSION_CANCELLED, actor_label)
    record(
        None,
        "update",
        "encounter",
        stay.pk,
        patient_id=stay.patient_id,
        actor_label=actor_label,
        summary=f"入院已撤销（ADT^A11），取消随访任务 {cancelled} 项",
        changes={"status": [before, stay.status]},
    )


def _undo_discharge(stay: Encounter, actor_label: str) -> None:
    if stay.status != Encounter.Status.FINISHED:
        return  # not discharged (or the cancellation sent again)
    ended = stay.ended_at
    stay.status, stay.ended_at = Encounter.Status.IN_PROGRESS, None
    stay.save(update_fields=["status", "ended_at"])
    cancelled = _stop_plans_of(stay, Plan.StopReason.DISCHARGE_UNDONE, actor_label)
    record(
        None,
        "update",
        "encounter",
        stay.pk,
        patient_id=stay.patient_id,
        actor_label=actor_label,
        summary=f"出院已撤销（ADT^A13），取消随访任务 {cancelled} 项",
        changes={
            "status": [Encounter.Status.FINISHED, stay.status],
            "ended_at": [ended.isoformat() if ended else None, None],
        },
    )

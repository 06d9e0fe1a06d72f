"""FHIR Task, CarePlan and Flag ← CareLoop follow-up tasks, plans and alerts: read and search
only. They are made and moved on by CareLoop's own workflow (pathways, the worklist, the
alert lifecycle), so a create, update or Bundle entry writing them is answered 405.

Scoped like every other type: the patients the token's user may see (``patients_for``),
and the follow-up permission to view tasks, plans or alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import QueryDict
from fhir.resources.R4B.careplan import CarePlan as FhirCarePlan
from fhir.resources.R4B.flag import Flag as FhirFlag
from fhir.resources.R4B.task import Task as FhirTask

from careloop.followup.models import Alert, FollowUpRecord, Plan, Task
from careloop.interop.fhir import codes
from careloop.interop.fhir.base import (
    Handler,
    patient_filter,
    require_permission,
    status_filter,
)
from careloop.interop.fhir.outcome import FhirError
from careloop.patients.access import patients_for


def _instant(value: datetime) -> str:
    return value.isoformat()


class ReadOnlyHandler(Handler):
    """Read and search; every write (POST, PUT, a Bundle entry) is refused with a 405 when
    its body is checked, which happens before anything else on every path (the raw body is
    still kept, as for every write)."""

    model: type[Model]
    permission: str
    statuses: set[str]
    status_out: dict[str, str]
    search_params = ["_id", "patient", "subject", "status"]

    def validate(self, data: Any) -> dict[str, Any]:
        raise FhirError(
            405,
            f"{self.resource_type} is read-only here (read and search); CareLoop's follow-up "
            "workflow creates and changes it",
            code="not-supported",
        )

    def queryset(self, user: Any) -> QuerySet[Any]:
        require_permission(user, self.permission)
        return self.model._default_manager.filter(patient__in=patients_for(user).values("pk"))

    def search(self, user: Any, params: QueryDict) -> QuerySet[Any]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for statuses in status_filter(params, self.statuses, self.status_out):
            queryset = queryset.filter(status__in=statuses)
        return queryset


class TaskHandler(ReadOnlyHandler):
    resource_type = "Task"
    fhir_class = FhirTask
    model = Task
    permission = "followup.view_task"
    statuses = codes.TASK_STATUSES
    status_out = codes.TASK_STATUS_OUT

    def queryset(self, user: Any) -> QuerySet[Task]:
        last_try = FollowUpRecord.objects.filter(task=OuterRef("pk")).order_by("-at").values("at")
        return (
            super()
            .queryset(user)
            .select_related("assignee")
            .annotate(last_try_at=Subquery(last_try[:1]))
        )

    def to_fhir(self, task: Task) -> dict[str, Any]:
        purpose = str(task.get_purpose_display())
        changed = max(
            moment
            for moment in (task.created_at, task.closed_at, getattr(task, "last_try_at", None))
            if moment is not None
        )
        resource: dict[str, Any] = {
            "resourceType": "Task",
            "id": str(task.pk),
            "status": codes.TASK_STATUS_OUT[task.status],
            "intent": "plan",
            "code": {
                "coding": [
                    {"system": codes.FOLLOWUP_PURPOSE, "code": task.purpose, "display": purpose}
                ],
                "text": purpose,
            },
            "description": task.title,
            "for": {"reference": f"Patient/{task.patient_id}"},
            "executionPeriod": {"start": _instant(task.due_at), "end": _instant(task.deadline)},
            "authoredOn": _instant(task.created_at),
            "lastModified": _instant(changed),
            "restriction": {"period": {"end": _instant(task.deadline)}},
        }
        if task.plan_id:
            resource["basedOn"] = [{"reference": f"CarePlan/{task.plan_id}"}]
        if task.assignee is not None:  # the username only: no name, no contact details
            resource["owner"] = {"type": "Practitioner", "display": task.assignee.get_username()}
        if task.outcome:
            label = str(task.get_outcome_display())
            resource["businessStatus"] = {
                "coding": [{"system": codes.FOLLOWUP_OUTCOME, "code": task.outcome}],
                "text": label,
            }
        if task.status == Task.Status.CANCELLED and task.cancel_reason:
            resource["statusReason"] = {"text": task.cancel_reason}
        return resource


class CarePlanHandler(ReadOnlyHandler):
    resource_type = "CarePlan"
    fhir_class = FhirCarePlan
    model = Plan
    permission = "followup.view_plan"
    statuses = codes.CAREPLAN_STATUSES
    status_out = codes.CAREPLAN_STATUS_OUT

    def queryset(self, user: Any) -> QuerySet[Plan]:
        return super().queryset(user).select_related("version")

    def to_fhir(self, plan: Plan) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "CarePlan",
            "id": str(plan.pk),
            "status": codes.CAREPLAN_STATUS_OUT[plan.status],
            "intent": "plan",
            "title": f"{plan.version.name} v{plan.version.version}",
            "subject": {"reference": f"Patient/{plan.patient_id}"},
            "period": {"start": _instant(plan.started_at)},
            "created": _instant(plan.started_at),
        }
        if plan.ended_at:
            resource["period"]["end"] = _instant(plan.ended_at)
        if plan.reason:
            resource["description"] = plan.reason
        if plan.stop_reason:
            resource["note"] = [{"text": str(plan.get_stop_reason_display())}]
        return resource


class FlagHandler(ReadOnlyHandler):
    resource_type = "Flag"
    fhir_class = FhirFlag
    model = Alert
    permission = "followup.view_alert"
    statuses = codes.FLAG_STATUSES
    status_out = codes.FLAG_STATUS_OUT

    def to_fhir(self, alert: Alert) -> dict[str, Any]:
        kind = str(alert.get_kind_display())
        severity = str(alert.get_severity_display())
        resource: dict[str, Any] = {
            "resourceType": "Flag",
            "id": str(alert.pk),
            "status": codes.FLAG_STATUS_OUT[alert.status],
            "category": [
                {
                    "coding": [{"system": codes.ALERT_KIND, "code": alert.kind, "display": kind}],
                    "text": kind,
                },
                {
                    "coding": [
                        {
                            "system": codes.ALERT_SEVERITY,
                            "code": alert.severity,
                            "display": severity,
                        }
                    ],
                    "text": severity,
                },
            ],
            "code": {"text": alert.title},
            "subject": {"reference": f"Patient/{alert.patient_id}"},
            "period": {"start": _instant(alert.created_at)},
        }
        if alert.resolved_at:
            resource["period"]["end"] = _instant(alert.resolved_at)
        return resource

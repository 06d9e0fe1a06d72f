"""/api/v1/tasks: follow-up tasks of the patients you can see, and recording an outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from careloop.api import (
    ERROR_RESPONSES,
    ErrorOut,
    InvalidFields,
    invalid_field,
    page_links,
    page_of,
)
from careloop.audit.services import record
from careloop.followup.forms import answers_form
from careloop.followup.models import Outcome, Task
from careloop.followup.outcomes import AlreadyRecorded, Attempt, do_record_attempt
from careloop.patients.access import get_patient_for, patients_for

router = Router()


class TaskParams(Schema):
    patient: int | None = Field(None, ge=1, le=2**63 - 1, description="a patient id")
    status: str | None = Field(None, description="open, done, failed or cancelled")
    assignee: str | None = Field(None, description="a username, or 'me'")
    page: int = Field(1, ge=1, le=2**31 - 1, description="from 1")
    page_size: int = Field(50, ge=1, description="at most 200")


class TaskOut(Schema):
    id: int
    patient: int
    title: str
    purpose: str
    status: str
    outcome: str
    due_at: datetime
    deadline: datetime
    channel: str
    channels: list[str]
    pathway: str | None
    plan: int | None
    form: str
    assignee: str | None
    attempts: int


class TaskPage(Schema):
    count: int
    page: int
    page_size: int
    next: str | None = Field(description="the next page's address, with the same filters")
    previous: str | None = Field(description="the previous page's address")
    results: list[TaskOut]


class OutcomeIn(Schema):
    outcome: str = Field(description=" / ".join(Outcome.values))
    answers: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "with outcome reached: the answers of the task's form (its ``form``), by field "
            "name: a number, a text, a choice's value, a list for several choices, true/false; "
            'e.g. for the form htn {"method": "电话", "sbp": 150, "dbp": 95, '
            '"medication_adherence": "规律"}. A field that is not valid is named in the '
            "422's ``errors`` (as ``answers.<field>``), a choice with the values it may take"
        ),
    )
    notes: str = Field("", max_length=2000, description="as the task page's notes: at most 2000")


class OutcomeOut(Schema):
    record: int
    task: TaskOut
    classification: str


def task_out(task: Task) -> TaskOut:
    return TaskOut(
        id=task.pk,
        patient=task.patient_id,
        title=task.title,
        purpose=task.purpose,
        status=task.status,
        outcome=task.outcome,
        due_at=task.due_at,
        deadline=task.deadline,
        channel=task.channel,
        channels=task.channels,
        pathway=task.plan.pathway.code if task.plan else None,
        plan=task.plan_id,
        form=task.form,
        assignee=task.assignee.get_username() if task.assignee else None,
        attempts=task.attempts,
    )


@router.get("", response={200: TaskPage, **ERROR_RESPONSES}, summary="List follow-up tasks")
def list_tasks(request: HttpRequest, params: Query[TaskParams]) -> TaskPage:
    """Tasks of patients you can see, by due time; filter by ``patient``, ``status`` and
    ``assignee`` (a username or ``me``)."""
    if not request.user.has_perm("followup.view_task"):
        raise PermissionDenied
    # The tasks of the patients the user can open, as the alerts (and as ``?patient=``):
    # those shared with their organisation too, and none of a patient moved out of it (its
    # closed tasks stay with the organisation that did them).
    tasks = Task.objects.filter(patient__in=patients_for(request.user).values("pk"))
    if params.patient is not None:
        get_patient_for(request.user, params.patient)  # 404 outside the user's reach
        tasks = tasks.filter(patient_id=params.patient)
    if params.status:
        if params.status not in Task.Status.values:
            raise invalid_field(
                "status",
                _("status must be one of: %(choices)s")
                % {"choices": ", ".join(Task.Status.values)},
            )
        tasks = tasks.filter(status=params.status)
    if params.assignee:
        if params.assignee == "me":
            tasks = tasks.filter(assignee_id=request.user.pk)
        else:
            tasks = tasks.filter(assignee__username=params.assignee)
    tasks = tasks.select_related("plan__pathway", "assignee").order_by("due_at", "pk")
    items, count, size = page_of(tasks, params.page, params.page_size)
    record(request.user, "list", "task", patient_id=params.patient, summary=f"tasks ({len(items)})")
    next_page, previous_page = page_links(request, params.page, size, count)
    return TaskPage(
        count=count,
        page=params.page,
        page_size=size,
        next=next_page,
        previous=previous_page,
        results=[task_out(t) for t in items],
    )


@router.post(
    "/{task_id}/outcome",
    response={200: OutcomeOut, 201: OutcomeOut, 409: ErrorOut, **ERROR_RESPONSES},
    summary="Record a follow-up attempt",
)
def post_outcome(request: HttpRequest, task_id: int, body: OutcomeIn) -> Status:
    """Record one attempt at an open task: ``reached`` (with the task's ``form`` answers),
    ``no_answer`` / ``busy`` (retried at another time, three tries, then the next channel),
    ``wrong_number``, ``refused``, ``deceased`` (stops the patient's plans).

    Send an ``Idempotency-Key`` header (at most 64 characters, new for each attempt) to retry
    safely after a timeout: a request with a key already recorded on the task records
    nothing and is answered 200 with that record and the task as it is now."""
    if not request.user.has_perm("followup.change_task"):
        raise PermissionDenied
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 64:
        raise InvalidFields({"Idempotency-Key": [_("At most 64 characters.")]})
    task = get_object_or_404(Task.objects.select_related("plan__pathway"), pk=task_id)
    get_patient_for(request.user, task.patient_id, write=True)  # not on a read share
    if body.outcome not in Outcome.values:
        raise invalid_field(
            "outcome",
            _("outcome must be one of: %(choices)s") % {"choices": ", ".join(Outcome.values)},
        )
    answers: dict[str, Any] = {}
    if body.outcome == Outcome.REACHED:
        form = answers_form(task.form, _as_form_data(body.answers), prefix="")
        if form is not None:
            if not form.is_valid():
                raise InvalidFields(form_errors(form))
            answers = form.answers()
    status = 201
    try:
        entry = do_record_attempt(
            task,
            request.user,
            Attempt(outcome=body.outcome, answers=answers, notes=body.notes, request_key=key),
        )
    except AlreadyRecorded as retried:
        entry, status = retried.entry, 200
    except ValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    task.refresh_from_db()
    out = OutcomeOut(record=entry.pk, task=task_out(task), classification=entry.classification)
    return Status(status, out)


def form_errors(form: Any) -> dict[str, list[str]]:
    """The form's errors by ``answers.<field>``; a choice not offered names those that are."""
    errors: dict[str, list[str]] = {}
    for name, problems in form.errors.as_data().items():
        field = form.fields.get(name)
        choices = [str(value) for value, _label in getattr(field, "choices", ()) if value != ""]
        for problem in problems:
            message = " ".join(problem.messages)
            if problem.code == "invalid_choice" and choices:
                message += " " + _("(one of: %(choices)s)") % {"choices": ", ".join(choices)}
            errors.setdefault(f"answers.{name}", []).append(message)
    return errors


def _as_form_data(answers: dict[str, Any]) -> Any:
    """JSON answers as form data (lists stay lists; true/false as checkbox values)."""
    from django.utils.datastructures import MultiValueDict

    data: dict[str, list[Any]] = {}
    for key, value in answers.items():
        if isinstance(value, list):
            data[key] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[key] = ["on"]
        elif value is not None:
            data[key] = [str(value)]
    return MultiValueDict(data)

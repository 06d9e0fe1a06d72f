"""What a message's fate does to its follow-up: a reminder or guide (a task without a form
or questionnaire) is done once the provider accepted it and the plan moves on; a task with
a form or questionnaire waits for the patient's answer. A message that could not be sent
passes the task to the next channel; so does a reminder closed when the provider accepted
it whose delivery then failed (the task is opened again). An opt-out withdraws consent for
that channel, for every purpose, and cancels what is queued on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from careloop.bulk import insert_rows
from careloop.clinical.models import Encounter
from careloop.followup.models import FollowUpRecord, Outcome, Plan, Purpose, Task
from careloop.followup.planning import MOOT_WITHIN, generate
from careloop.interop.webhook_events import tasks_completed
from careloop.outreach.models import Message
from careloop.patients.models import ConsentRecord


def _open_tasks(messages: list[Message]) -> dict[int, Task]:
    """The messages' tasks still open, with their patients (choosing the next channel
    reads them)."""
    ids = {m.task_id for m in messages if m.task_id}
    tasks = Task.objects.filter(pk__any_of=ids, status=Task.Status.OPEN).select_related("patient")
    return {t.pk: t for t in tasks}


RECORD_FIELDS = ("task_id", "patient_id", "channel", "outcome", "notes", "at")
RECORD_BLANKS = ("form", "classification", "recording", "recording_type", "call_id")
REACHED = Outcome.REACHED.value


def after_send(messages: list[Message], now: datetime) -> int:
    """Close the form-less tasks whose message went out; returns how many."""
    ids = {m.task_id for m in messages if m.task_id}
    open_reminders = {
        pk: (patient_id, plan_id, channel)
        for pk, patient_id, plan_id, channel in Task.objects.filter(
            pk__any_of=ids, status=Task.Status.OPEN, form="", questionnaire=""
        ).values_list("pk", "patient_id", "plan_id", "channel")
    }
    closing = [
        (m, open_reminders[m.task_id])
        for m in messages
        if m.task_id in open_reminders and open_reminders[m.task_id][2] == m.channel
    ]
    if not closing:
        return 0
    # Plain rows (a model instance each through bulk_create cost more than the send).
    blanks: tuple[Any, ...] = ("",) * len(RECORD_BLANKS) + ({}, {})
    insert_rows(
        FollowUpRecord,
        RECORD_FIELDS + RECORD_BLANKS + ("answers", "assessment"),
        (
            (m.task_id, patient, m.channel, REACHED, f"已发送（{m.provider}）", now, *blanks)
            for m, (patient, _plan, _channel) in closing
        ),
    )
    closed = [m.task_id for m, _task in closing]
    Task.objects.filter(pk__any_of=closed, status=Task.Status.OPEN).update(
        status=Task.Status.DONE, outcome=Outcome.REACHED, closed_at=now
    )
    tasks_completed(closed, closed_at=now)
    plan_ids = {plan_id for _m, (_p, plan_id, _c) in closing if plan_id}
    for plan in Plan.objects.filter(pk__any_of=plan_ids, status=Plan.Status.ACTIVE).select_related(
        "patient", "version"
    ):
        generate(plan, plan.patient, now=now)
    return len(closed)


def after_failure(messages: list[Message], now: datetime) -> int:
    """Pass the messages' follow-ups to their next channel; returns how many."""
    from careloop.outreach.queueing import pass_on

    tasks = _open_tasks(messages)
    tasks |= _reopen_undelivered([m for m in messages if m.task_id not in tasks], now)
    moved = 0
    for message in messages:
        task = tasks.get(message.task_id or 0)
        if task is not None and task.channel == message.channel:
            pass_on(task, f"{message.channel_label}: {message.error}", now)
            moved += 1
    return moved


def _reopen_undelivered(messages: list[Message], now: datetime) -> dict[int, Task]:
    """Open again the reminders ``after_send`` closed for these messages, now reported not
    delivered: the patient was not reached after all. Only a task as the send left it (done,
    reached, on this channel, closed at the moment of sending: one closed since by a person
    is theirs), of a living patient, in a plan still running or completed by that send (then
    running again); not a revisit reminder made moot by a visit since. The send's record
    says so too (not reached: it no longer counts as a contact)."""
    sent = {m.task_id: m for m in messages if m.task_id and m.sent_at}
    reopened = {}
    for task in Task.objects.filter(
        pk__any_of=list(sent), status=Task.Status.DONE, outcome=Outcome.REACHED
    ).select_related("patient", "plan"):
        message = sent[task.pk]
        if not _still_wanted(task, message, now):
            continue
        task.status, task.outcome, task.closed_at = Task.Status.OPEN, "", None
        task.save(update_fields=["status", "outcome", "closed_at"])
        plan = task.plan
        if plan is not None and plan.status == Plan.Status.COMPLETED:
            plan.status, plan.ended_at = Plan.Status.ACTIVE, None
            plan.save(update_fields=["status", "ended_at"])
        assert message.sent_at is not None  # (only sent messages were kept above)
        FollowUpRecord.objects.filter(
            task=task, channel=message.channel, at=message.sent_at, by__isnull=True
        ).update(
            outcome=Outcome.NO_ANSWER,
            notes=f"已发送（{message.provider}），未送达：{message.error}"[:500],
        )
        reopened[task.pk] = task
    return reopened


def _still_wanted(task: Task, message: Message, now: datetime) -> bool:
    if task.channel != message.channel or task.closed_at != message.sent_at:
        return False  # closed since, by someone
    if task.patient.deceased_on is not None:
        return False
    plan = task.plan
    if plan is not None and plan.status == Plan.Status.STOPPED:
        return False
    if (
        plan is not None
        and plan.status == Plan.Status.COMPLETED
        and plan.ended_at != task.closed_at
    ):
        return False  # completed later, by something else
    if task.purpose == Purpose.REVISIT_REMINDER:  # moot once the patient has come in
        came = Encounter.objects.filter(
            patient_id=task.patient_id,
            started_at__gte=task.due_at - MOOT_WITHIN,
            started_at__lte=now,
        )
        return not came.exists()
    return True


def opt_out(patient_id: int, channel: str, how: str, note: str = "") -> int:
    """The patient wants nothing more on ``channel``: withdraw consent for every purpose and
    cancel the messages queued on it. Returns the messages cancelled."""
    now = timezone.now()
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            patient_id=patient_id,
            purpose=purpose,
            channel=channel,
            granted=False,
            method=ConsentRecord.Method.REPLY,
            note=(note or f"退订（{how}）")[:200],
            recorded_at=now,
        )
        for purpose in ConsentRecord.Purpose.values
    )
    return Message.objects.filter(
        patient_id=patient_id, channel=channel, status=Message.Status.QUEUED
    ).update(status=Message.Status.CANCELLED, error=Message.OPTED_OUT)


def opt_out_all(messages: list[Any], how: str) -> None:
    for message in messages:
        opt_out(message.patient_id, message.channel, how)

"""Due automated follow-ups become messages: one per task and channel (the idempotency key),
created only when consent, an address, quiet hours and the weekly cap allow; otherwise the
task moves to the next channel of its policy (a phone call lands on the worklist)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from careloop.accounts.models import Organisation
from careloop.bulk import insert_rows
from careloop.fields import sealed
from careloop.followup.models import Task
from careloop.followup.planning import next_channel
from careloop.outreach import policy
from careloop.outreach.compose import TemplateError, compose, context_for, template_for
from careloop.outreach.config import channel_config
from careloop.outreach.models import Message
from careloop.outreach.transports import AUTOMATED_CHANNELS
from careloop.portal.links import MAX_DAYS, link_path, make_token
from careloop.questionnaires.services import current as questionnaire_version

BATCH = 500
MESSAGE_FIELDS = (
    "organisation_id",
    "patient_id",
    "task_id",
    "key",
    "channel",
    "provider",
    "purpose",
    "to",
    "subject",
    "body",
    "template_code",
    "params",
    "keys",
    "link",
    "next_try_at",
    "created_at",
    # a new message's state (MESSAGE_DEFAULTS)
    "status",
    "tries",
    "worker",
    "provider_id",
    "error_code",
    "error",
)
MESSAGE_DEFAULTS = (Message.Status.QUEUED.value, 0, "", "", "", "")


@dataclass(slots=True)
class Due:
    """A due task as queueing reads it, with what it needs of its patient: plain values, not
    model instances (loading a Task and a Patient per message was a fifth of queueing). The
    phone stays sealed: it is copied into the message's sealed ``to`` as it is."""

    pk: int
    patient_id: int
    organisation_id: int  # the patient's
    title: str
    purpose: str
    channel: str
    questionnaire: str
    deadline: datetime
    name: str
    sex: str
    birth_date: date
    quiet_hours_start: time
    quiet_hours_end: time
    sealed_phone: str
    phone_kind: str  # Patient.phone_kind: SMS to a mobile only, voice not to an extension


DUE_COLUMNS = (
    *("pk", "patient_id", "patient__organisation_id", "title", "purpose", "channel"),
    *("questionnaire", "deadline", "patient__name", "patient__sex", "patient__birth_date"),
    *("patient__quiet_hours_start", "patient__quiet_hours_end", "sealed_phone"),
    "patient__phone_kind",
)


@dataclass
class Queued:
    messages: int = 0
    deferred: int = 0
    passed_on: dict[str, int] = field(default_factory=dict)

    def passed(self, reason: str) -> None:
        self.passed_on[reason] = self.passed_on.get(reason, 0) + 1


def message_key(task_id: int, channel: str) -> str:
    return f"task:{task_id}:{channel}"


def pass_on(task: Task, reason: str, now: datetime) -> None:
    """Give up ``task``'s current channel: the next one of its policy, or not reached."""
    channel, index = next_channel(task)
    if index < 0:
        task.status, task.closed_at = Task.Status.FAILED, now
        task.cancel_reason = reason[:200]
    else:
        task.channel, task.attempts, task.due_at = channel, 0, max(task.due_at, now)
    task.save(
        update_fields=["status", "closed_at", "cancel_reason", "channel", "attempts", "due_at"]
    )
    if index < 0:  # not reached, as an outcome recorded by a person (失访史)
        from careloop.rules.engine import run_for_answers
        from careloop.rules.models import Trigger

        run_for_answers(Trigger.TASK_OUTCOME, task.patient_id, now=now)


def patient_link(task: Due, now: datetime) -> str:
    """The link to the task's questionnaire on the patient's pages (valid until a day after
    the task's deadline), or "" when the task has none in use."""
    if not task.questionnaire or questionnaire_version(task.questionnaire) is None:
        return ""
    days = max(1, min(MAX_DAYS, (task.deadline - now).days + 1))
    token = make_token(
        task.patient_id,
        "questionnaire",
        questionnaire=task.questionnaire,
        task_id=task.pk,
        days=days,
        now=now.timestamp(),
    )
    return settings.CARELOOP_PUBLIC_URL + link_path(token)


def hospital_name(organisation_id: int, cache: dict[int, str]) -> str:
    if organisation_id not in cache:
        org = Organisation.objects.only("path").get(pk=organisation_id)
        cache[organisation_id] = Organisation.objects.get(pk=org.lineage[0]).name
    return cache[organisation_id]


def due_tasks(now: datetime, limit: int) -> list[Due]:
    sent = Message.objects.filter(task=OuterRef("pk"), channel=OuterRef("channel"))
    rows = (
        Task.objects.filter(
            status=Task.Status.OPEN, channel__in=AUTOMATED_CHANNELS, due_at__lte=now
        )
        .filter(~Exists(sent))
        .annotate(sealed_phone=sealed("patient__phone"))
        .order_by("due_at", "id")
        .values_list(*DUE_COLUMNS)[:limit]
    )
    return [Due(*row) for row in rows]


def queue_due(*, now: datetime | None = None, limit: int = BATCH) -> Queued:
    """One batch of due automated tasks → messages. Safe to run in several processes: the
    message key is unique, a second run creates nothing."""
    now = now or timezone.now()
    done = Queued()
    tasks = due_tasks(now, limit)
    by_channel: dict[str, list[Due]] = {}
    for task in tasks:
        by_channel.setdefault(task.channel, []).append(task)
    hospitals: dict[int, str] = {}
    organisations = Organisation.objects.in_bulk({t.organisation_id for t in tasks})
    for channel, group in by_channel.items():
        with transaction.atomic():
            passing = _queue_channel(channel, group, now, done, (organisations, hospitals))
            _pass_on_all(passing, channel, now)
    return done


def _pass_on_all(passing: dict[int, str], channel: str, now: datetime) -> None:
    """Pass each task on from ``channel`` to its next one (task id → why). Only a task still
    open on that channel, its row held: another dispatcher (a second worker, a job run
    twice) that read the task at the same time may have passed it on already, and passing
    it again would skip a channel or mark the follow-up failed."""
    still_open = Task.objects.filter(
        pk__any_of=passing, status=Task.Status.OPEN, channel=channel
    ).select_for_update(of=("self",))
    for task in still_open.select_related("patient").order_by("pk"):
        pass_on(task, passing[task.pk], now)


def _queue_channel(
    channel: str,
    tasks: list[Due],
    now: datetime,
    done: Queued,
    places: tuple[dict[int, Organisation], dict[int, str]],
) -> dict[int, str]:
    """Queue the messages of ``tasks`` on ``channel``; returns those to pass on (id → why).
    ``places``: the patients' organisations by id, and a cache of their hospitals' names."""
    organisations, hospitals = places
    ids = [t.patient_id for t in tasks]
    consent = policy.consents(ids, channel)
    address = policy.sealed_addresses(tasks, channel)
    counts = policy.sent_this_week(ids, channel, now)
    templates: dict[tuple[int, str], Any] = {}
    configs: dict[int, Any] = {}
    local_now = timezone.localtime(now)
    messages = []
    passing: dict[int, str] = {}

    def give_up(task: Due, kind: str, reason: str) -> None:
        passing[task.pk] = reason
        done.passed(kind)

    for task in tasks:
        if task.organisation_id not in configs:
            configs[task.organisation_id] = channel_config(task.organisation_id, channel)
        config = configs[task.organisation_id]
        if not consent.get(task.patient_id, False):
            give_up(task, "consent", "no consent for this channel")
            continue
        if not address.get(task.patient_id):
            give_up(task, "address", "no address on this channel")
            continue
        if channel == "sms" and task.phone_kind != "mobile":
            # A landline takes no SMS: the task moves on (a call, or voice) at once.
            give_up(task, "landline", "the phone is a landline: no SMS")
            continue
        if channel == "voice" and task.phone_kind == "extension":
            give_up(task, "landline", "the landline has an extension: no automated call")
            continue
        key = (task.organisation_id, task.purpose)
        if key not in templates:
            organisation = organisations[task.organisation_id]
            templates[key] = template_for(organisation, task.purpose, channel)
        link = patient_link(task, now)
        try:
            hospital = hospital_name(task.organisation_id, hospitals)
            context = context_for(task, task, hospital, link, local_now)
            words = compose(templates[key], task.purpose, channel, context)
        except TemplateError:
            give_up(task, "template", "message template cannot be rendered")
            continue
        if not words.sendable_by(config.provider):
            give_up(task, "template", "no approved provider template")
            continue
        send_at = policy.after_quiet_hours(task, now, local_now) or now
        sent, oldest = counts.get(task.patient_id, (0, None))
        if sent >= config.weekly_cap and oldest is not None:
            send_at = max(send_at, oldest + policy.WEEK)
            if send_at > task.deadline:
                give_up(task, "cap", "weekly message cap reached")
                continue
        counts[task.patient_id] = (sent + 1, oldest or now)
        if send_at > now:
            done.deferred += 1
        messages.append(
            (
                task.organisation_id,
                task.patient_id,
                task.pk,
                message_key(task.pk, channel),
                channel,
                config.provider,
                task.purpose,
                address[task.patient_id],
                words.subject,
                words.text,
                words.template_code,
                words.params,
                words.keys,
                link,
                send_at,
                now,
                *MESSAGE_DEFAULTS,
            )
        )
    # Plain rows, not model instances through bulk_create (a seventh of the worker's time);
    # a message already there for the task and channel (its key) is left as it is.
    # ``to`` holds the sealed address as it is.
    done.messages += insert_rows(
        Message, MESSAGE_FIELDS, messages, ignore_conflicts=True, sealed=("to",)
    )
    return passing

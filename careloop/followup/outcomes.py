"""Recording a follow-up attempt and moving the plan on: retries at another time (three
tries), then the next channel of the policy; a reached patient's form feeds the national
follow-up classification (chronic programmes), the record's results and the rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.audit.services import record
from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Source
from careloop.clinical.services import do_record_results
from careloop.followup.alert_sources import alerts_from_record
from careloop.followup.definition import Node
from careloop.followup.models import FollowUpRecord, Outcome, Plan, Task
from careloop.followup.pathways import definition_of
from careloop.followup.planning import generate, next_channel, stop_patient_plans
from careloop.followup.recordings import stored_name
from careloop.followup.schedule import programme_next, retry_at
from careloop.ids import latest_id
from careloop.interop.webhook_events import tasks_completed
from careloop.rules.risk import assess
from careloop.rules.risk.base import InputError

MAX_TRIES = 3  # per channel, at different times
RETRY = (Outcome.NO_ANSWER, Outcome.BUSY)

# What the national forms measure, stored as results of the record (LOINC).
FORM_RESULTS = {
    "sbp": ("8480-6", "收缩压", "mmHg"),
    "dbp": ("8462-4", "舒张压", "mmHg"),
    "heart_rate": ("8867-4", "心率", "/min"),
    "weight_kg": ("29463-7", "体重", "kg"),
    "fpg": ("14771-0", "空腹血糖", "mmol/L"),
    "hba1c": ("4548-4", "糖化血红蛋白", "%"),
}


@dataclass
class Attempt:
    """What the nurse recorded (validated by the form)."""

    outcome: str
    answers: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    recording: UploadedFile | None = None
    recording_type: str = ""
    channel: str = ""
    opt_out: bool = False
    # The task's latest record when the page (or program) recording this was shown it: one
    # since is someone else's, or this one sent twice, and this one is refused.
    seen: int | None = None
    # An API caller's Idempotency-Key: the attempt already recorded with it is not again.
    request_key: str = ""


class AlreadyRecorded(Exception):
    """The attempt was recorded already with this request key (``entry``): a retry."""

    def __init__(self, entry: FollowUpRecord) -> None:
        super().__init__(f"already recorded as {entry.pk}")
        self.entry = entry


def _node(task: Task) -> Node | None:
    if task.plan is None:
        return None
    return definition_of(task.plan.version).node(task.node)


def _previous_classification(task: Task) -> str | None:
    """Whether the patient's last visit of this programme was controlled, as the model takes
    it (控制满意 / 控制不满意). A visit classified 不良反应 or 并发症 (the form's single
    choice) still says whether it was controlled: its stored ``controlled`` flag counts, so
    two uncontrolled visits in a row lead to a referral whatever else the first one had
    (REFERENCE §1.1, §1.3)."""
    last = (
        FollowUpRecord.objects.filter(
            patient_id=task.patient_id, form=task.form, outcome=Outcome.REACHED
        )
        .exclude(classification="")
        .exclude(task=task)
        .values_list("classification", "assessment")
        .first()
    )
    if last is None:
        return None
    classification, assessment = last
    controlled = (assessment or {}).get("controlled")
    if isinstance(controlled, bool):
        return "控制满意" if controlled else "控制不满意"
    return classification if classification in ("控制满意", "控制不满意") else None


def classify(task: Task, answers: dict[str, Any]) -> dict[str, Any] | None:
    """The national follow-up classification of a chronic-programme visit (``htn-followup``
    or ``dm-followup``), or None when the task has no such form. ``ValidationError`` names
    the field the model refused."""
    if task.form not in ("htn", "dm"):
        return None
    symptoms = [s for s in answers.get("symptoms", []) if s != "无症状"]
    if answers.get("symptoms_other"):
        symptoms.append(str(answers["symptoms_other"]))
    data: dict[str, Any] = {
        "age": task.patient.age,
        "sbp": answers.get("sbp"),
        "dbp": answers.get("dbp"),
        "symptoms": symptoms,
        "adverse_reaction": bool(answers.get("adverse_reaction")),
        "adverse_reaction_hard_to_control": bool(answers.get("adverse_reaction_hard_to_control")),
        "new_or_worse_complication": bool(answers.get("new_or_worse_complication")),
        "previous_classification": _previous_classification(task),
        "other_emergency": bool(answers.get("other_emergency")),
    }
    if task.form == "htn":
        data["pregnant_or_lactating"] = bool(answers.get("pregnant_or_lactating"))
        model = "htn-followup"
    else:
        data.update(
            fpg=answers.get("fpg"),
            hr=answers.get("heart_rate"),
            hr_persistent=bool(answers.get("heart_rate_persistent")),
            temperature_c=answers.get("temperature_c"),
        )
        model = "dm-followup"
    try:
        return assess(model, data)
    except InputError as exc:
        raise ValidationError(f"{exc.field}: {exc.message}") from exc


def _store_measurements(task: Task, answers: dict[str, Any], at: datetime) -> int:
    results = []
    for key, (code, name, unit) in FORM_RESULTS.items():
        if answers.get(key) in (None, ""):
            continue
        if key == "fpg" and answers.get("sample") == "capillary":
            code, name = "41653-7", "末梢血糖"  # capillary readings are not diagnostic
        results.append(ResultInput(name, at, loinc=code, value=float(answers[key]), unit=unit))
    if not results:
        return 0
    stored = do_record_results(
        task.patient, None, results, source=Source.MANUAL, source_label="随访记录"
    )
    return stored.observations


def _retry_or_next_channel(task: Task, outcome: str, now: datetime) -> None:
    node = _node(task)
    window = node.window if node else (time(9), time(17))
    quiet = (task.patient.quiet_hours_start, task.patient.quiet_hours_end)
    task.attempts += 1
    if outcome in RETRY and task.attempts < MAX_TRIES:
        task.due_at = retry_at(timezone.localtime(now), window, quiet)
    else:
        channel, index = next_channel(task)
        if index < 0:
            task.status, task.outcome, task.closed_at = Task.Status.FAILED, outcome, now
            return
        task.channel, task.attempts = channel, 0
        task.due_at = retry_at(timezone.localtime(now), window, quiet)
    task.deadline = max(task.deadline, task.due_at + timedelta(hours=8))


def _advance(task: Task, result: dict[str, Any] | None, now: datetime) -> None:
    """The plan after a closed task: a programme's next visit from the classification, and
    whatever else has come due."""
    plan = task.plan
    if plan is None or not plan.is_active:
        return
    node = _node(task)
    if node is not None and node.every == "programme":
        days = result["next_followup_max_days"] if result else 14
        if task.status == Task.Status.FAILED:
            days = 14  # not reached: try again within two weeks
        plan.state[node.key]["next_due"] = programme_next(timezone.localdate(now), days).isoformat()
    generate(plan, task.patient, now=now)


def latest_record(task: Task) -> int:
    """The id of the task's latest record (0 without one): what a page recording an
    attempt has seen (``Attempt.seen``)."""
    return latest_id(FollowUpRecord.objects.filter(task=task))


def _check_not_overtaken(task: Task, seen: int | None) -> None:
    """Refuse an attempt when the task was recorded after ``seen`` (the form sent twice, or
    a colleague recorded it meanwhile), saying by whom, when and what."""
    if seen is None:
        return
    later = (
        FollowUpRecord.objects.filter(task=task, pk__gt=seen).select_related("by").order_by("pk")
    ).last()
    if later is None:
        return
    raise ValidationError(
        _(
            "%(who)s recorded “%(outcome)s” on this task at %(when)s, after this page was "
            "opened: nothing more was recorded. Read the task again before recording."
        )
        % {
            "who": later.by or _("The system"),
            "outcome": later.get_outcome_display(),
            "when": timezone.localtime(later.at).strftime("%H:%M:%S"),
        },
        code="conflict",
    )


def do_record_attempt(
    task: Task, actor: Any, attempt: Attempt, at: datetime | None = None
) -> FollowUpRecord:
    """Record one attempt at an open task, then close, retry or pass it to the next channel,
    and move its plan on. ``at``: when the attempt was made, if not now (the demo's history
    of past calls). ``ValidationError`` when the task is closed or the form is
    inconsistent; ``AlreadyRecorded`` when ``attempt.request_key`` was recorded before."""
    now = at or timezone.now()
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("patient", "plan__version")
            .get(pk=task.pk)
        )
        if attempt.request_key:
            done = FollowUpRecord.objects.filter(task=task, request_key=attempt.request_key)
            if (entry := done.first()) is not None:
                raise AlreadyRecorded(entry)
        _check_not_overtaken(task, attempt.seen)
        if not task.is_open:
            raise ValidationError(
                _("This follow-up task has ended: nothing more can be recorded on it.")
            )
        result = classify(task, attempt.answers) if attempt.outcome == Outcome.REACHED else None
        entry = FollowUpRecord(
            task=task,
            patient=task.patient,
            channel=attempt.channel or task.channel,
            outcome=attempt.outcome,
            form=task.form,
            answers=attempt.answers,
            classification=(result or {}).get("classification", ""),
            assessment=result or {},
            notes=attempt.notes,
            recording_type=attempt.recording_type,
            request_key=attempt.request_key,
            by=actor,
            at=now,
        )
        if attempt.recording is not None:
            entry.recording.save(stored_name(attempt.recording_type), attempt.recording, save=False)
        entry.save()
        if attempt.outcome in (Outcome.REACHED, Outcome.REFUSED, Outcome.DECEASED):
            task.status, task.outcome = Task.Status.DONE, attempt.outcome
            task.closed_at, task.closed_by = now, actor
            task.attempts += 1  # the tries on its channel, the one that closed it included
        else:
            _retry_or_next_channel(task, attempt.outcome, now)
        task.save()
        if task.status == Task.Status.DONE:
            tasks_completed([task.pk])
        if attempt.outcome == Outcome.REACHED:
            _store_measurements(task, attempt.answers, now)
            alerts_from_record(task, entry, result)
        record(
            actor,
            "create",
            "followup_record",
            entry.pk,
            patient_id=task.patient_id,
            summary=f"task {task.pk}: {attempt.outcome}"
            + (f" ({entry.classification})" if entry.classification else ""),
        )
        patient = task.patient
        if attempt.outcome == Outcome.DECEASED:
            if patient.deceased_on is None:
                patient.deceased_on = timezone.localdate(now)
                patient.save(update_fields=["deceased_on", "updated_at"])
            stop_patient_plans(patient, Plan.StopReason.DECEASED, actor)
        elif attempt.opt_out:
            stop_patient_plans(patient, Plan.StopReason.OPTED_OUT, actor)
        elif not task.is_open:
            _advance(task, result, now)
        from careloop.rules.engine import run_for_answers
        from careloop.rules.models import Trigger

        run_for_answers(Trigger.TASK_OUTCOME, patient.pk, outcome=attempt.outcome, now=now)
    return entry

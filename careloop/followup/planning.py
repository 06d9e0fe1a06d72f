"""Plans: enrolment, generating each plan's near-future tasks (the rest come as time passes
and earlier ones close — a plan never holds thousands of future rows), re-planning on a tier
change, stopping, and cancelling reminders a visit made moot."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from careloop.audit.services import record
from careloop.followup.definition import Node, Profile
from careloop.followup.models import Holiday, Pathway, Plan, Purpose, Task
from careloop.followup.pathways import current_version, definition_of
from careloop.followup.schedule import due_by, due_window, occurrence_days, tier_key
from careloop.interop.webhook_events import alert_events
from careloop.patients.models import Patient
from careloop.system_texts import PLAN_STOPPED, REMINDER_MOOT, TIERS_CHANGED, stored

# Plans stopped because what enrolled them was cancelled by the hospital (HL7 A11, A13).
UNDONE = (Plan.StopReason.DISCHARGE_UNDONE, Plan.StopReason.ADMISSION_CANCELLED)
HORIZON = timedelta(days=30)  # tasks exist this far ahead of their due time
PHONE_CHANNELS = {"phone", "sms", "voice"}


def reachable(patient: Any, channel: str) -> bool:
    """Whether ``channel`` can reach ``patient`` by their phone (channels other than the
    phone's always can, as far as planning knows): a call needs a number; an SMS a mobile,
    never a landline; an automated voice call a line that reaches the patient, not one
    behind an extension (a switchboard would hear it). ``patient`` is a Patient or a row
    with ``phone_hash`` and ``phone_kind``."""
    if channel not in PHONE_CHANNELS:
        return True
    if not patient.phone_hash:
        return False
    if channel == "sms":
        return patient.phone_kind == "mobile"
    if channel == "voice":
        return patient.phone_kind != "extension"
    return True


def holidays_for(organisation_id: int | None) -> frozenset[date]:
    query = Q(organisation__isnull=True)
    if organisation_id is not None:
        query |= Q(organisation_id=organisation_id)
    return frozenset(Holiday.objects.filter(query).values_list("day", flat=True))


def choose_channel(patient: Patient, channels: Iterable[str], start: int = 0) -> tuple[str, int]:
    """The channel to use from the policy (from position ``start``): the patient's preferred
    one when the policy allows it, else the first they can be reached on. (channel, index);
    index -1 when none is left."""
    policy = list(channels)[start:]
    usable = [c for c in policy if reachable(patient, c)]
    if not usable:
        return ("", -1)
    chosen = patient.preferred_channel if patient.preferred_channel in usable else usable[0]
    return chosen, start + policy.index(chosen)


# The national programmes' visits are face to face, at least four a year (REFERENCE §1.1,
# §1.2): the clinic or a home visit, whatever channel the patient prefers for the rest.
FACE_TO_FACE = ("clinic", "home_visit")
FACE_TO_FACE_FORMS = ("htn", "dm")


def first_channel(patient: Patient, channels: Iterable[str], form: str = "") -> tuple[str, int]:
    """The channel a task starts on: for a national programme visit (form ``htn``/``dm``)
    the patient's preferred one if it is face to face, else the policy's first face-to-face
    one; otherwise ``choose_channel``."""
    policy = list(channels)
    if form in FACE_TO_FACE_FORMS:
        if patient.preferred_channel in FACE_TO_FACE and patient.preferred_channel in policy:
            return patient.preferred_channel, policy.index(patient.preferred_channel)
        for index, channel in enumerate(policy):
            if channel in FACE_TO_FACE:
                return channel, index
    return choose_channel(patient, policy)


def profile(patient: Patient) -> Profile:
    return Profile(
        age=patient.age,
        literacy=patient.digital_literacy,
        risk=patient.risk_tier,
        value=patient.value_tier,
        lives_alone=patient.lives_alone,
    )


def next_channel(task: Task) -> tuple[str, int]:
    """The channel after ``task``'s current one: the policy is tried from the first choice
    (``choose_channel``, often the patient's preferred channel in the middle of it) to its
    end, then from its start, until every channel the patient can be reached on has been
    tried. (channel, index in the policy); index -1 when none is left."""
    policy = list(task.channels)
    first, start = first_channel(task.patient, policy, task.form)
    if start < 0:
        return ("", -1)
    if not reachable(task.patient, task.channel):
        # On a channel that cannot reach the patient (an SMS task of a patient whose number
        # has become a landline): the one the policy would have started on.
        return first, start
    order = policy[start:] + policy[:start]
    try:
        position = order.index(task.channel) + 1
    except ValueError:
        position = len(order)
    for channel in order[position:]:
        if reachable(task.patient, channel):
            return channel, policy.index(channel)
    return ("", -1)


def assignee_for(patient: Patient, role: str) -> int | None:
    """A doctor's or health manager's task goes to the patient's own; others to the team."""
    if role == "doctor":
        return patient.responsible_doctor_id
    if role == "health_manager":
        return patient.health_manager_id
    return None


def task_values(
    plan: Any, patient: Any, node: Node, occurrence: int, due: tuple[datetime, datetime]
) -> dict[str, Any]:
    """The fields of a plan's task for one occurrence of ``node`` (the plan itself apart)."""
    channels = node.channels_for(profile(patient))
    channel, _index = first_channel(patient, channels, node.form)
    return {
        "patient_id": patient.pk,
        "organisation_id": patient.organisation_id,
        "team_id": patient.care_team_id,
        "node": node.key,
        "revision": plan.state[node.key]["rev"],
        "occurrence": occurrence,
        "title": node.title,
        "purpose": node.purpose,
        "channel": channel or channels[0],
        "channels": list(channels),
        "form": node.form,
        "questionnaire": node.questionnaire,
        "assignee_role": node.role,
        "assignee_id": assignee_for(patient, node.role),
        "due_at": due[0],
        "deadline": due[1],
    }


def _task(
    plan: Plan, patient: Patient, node: Node, occurrence: int, due: tuple[datetime, datetime]
) -> Task:
    return Task(plan=plan, **task_values(plan, patient, node, occurrence, due))


def node_tasks(
    plan: Any,
    patient: Any,
    node: Node,
    now: datetime,
    holidays: frozenset[date],
    build: Callable[..., Any] = _task,
    tz: tzinfo | None = None,
) -> list[Any]:
    """The tasks of ``node`` now due within the horizon (``build`` makes each one: a Task by
    default), advancing the plan's state. ``tz``: the current time zone, when the caller
    already has it (bulk enrolment: looking it up per plan cost a tenth of the job)."""
    state = plan.state.setdefault(node.key, {"rev": 0, "next": 0})
    tz = tz or timezone.get_current_timezone()
    quiet = (patient.quiet_hours_start, patient.quiet_hours_end)
    anchor = timezone.localtime(plan.anchor, tz).date()
    if node.every == "programme":
        if state["next"] and not state.get("next_due"):
            return []  # the open visit decides when the next one is
        if state["next"]:  # at most the classification's days after the last visit
            day = date.fromisoformat(state.pop("next_due"))
            due = due_by(day, node, tz, quiet=quiet, holidays=holidays)
        else:
            day = anchor + timedelta(days=node.day)
            due = due_window(day, node, tz, quiet=quiet, holidays=holidays)
        state["next"] += 1
        return [build(plan, patient, node, state["next"] - 1, due)]
    if node.every == "tier_matrix":
        state.setdefault("tiers", "/".join(tier_key(patient.risk_tier, patient.value_tier)))
    risk, _, value = state.get("tiers", "/").partition("/")
    days = occurrence_days(node, anchor, risk=risk, value=value)
    tasks = []
    limit = (now + HORIZON).date()
    # After a tier change: the follow-ups the earlier frequency made, or still has open,
    # stand for the new frequency's occurrences up to the last of them.
    kept = date.fromisoformat(state["after"]) if state.get("after") else None
    while state["next"] < len(days):
        day, grace = days[state["next"]]
        if day > limit:
            break
        if kept is not None and day <= kept:
            state["next"] += 1
            continue
        due = due_window(day, node, tz, quiet=quiet, holidays=holidays, grace_days=grace)
        if due[1] < now:
            due = _planned_late(days, state["next"], node, due, now, tz, quiet, holidays)
        if due[1] >= now:  # an occurrence already past when planned is not created
            tasks.append(build(plan, patient, node, state["next"], due))
        state["next"] += 1
    return tasks


def _planned_late(
    days: list[tuple[date, int]],
    index: int,
    node: Node,
    due: tuple[datetime, datetime],
    now: datetime,
    tz: tzinfo,
    quiet: tuple[time, time],
    holidays: frozenset[date],
) -> tuple[datetime, datetime]:
    """An occurrence planned after its window — a day-0 call for a patient enrolled at 17:40,
    a discharge at 23:50 imported after midnight, a diagnosis the nightly job enrols — is due
    in the next day's window instead, unless that has passed too (a discharge learnt of days
    later) or the node's next occurrence falls due by then (compared once both are moved off
    holidays: on the eve of a week's holiday both land on the first working day). Otherwise
    the past window stays, and the occurrence is not created."""
    _day, grace = days[index]
    # Its own day is the one it is due (a day-1 call moved off a holiday is that day's).
    own_day = timezone.localtime(due[0], tz).date()
    following_day = own_day + timedelta(days=1)
    # Still to come: that day's own window, grace days apart (one with grace days planned
    # after them has passed that day too; counting them gave it a day more than its grace,
    # due days before it was planned, open beside the next occurrence).
    if due_window(following_day, node, tz, quiet=quiet, holidays=holidays, grace_days=0)[1] < now:
        return due
    moved = due_window(following_day, node, tz, quiet=quiet, holidays=holidays, grace_days=grace)
    if index + 1 < len(days):
        after, after_grace = days[index + 1]
        following = due_window(
            after, node, tz, quiet=quiet, holidays=holidays, grace_days=after_grace
        )
        if timezone.localtime(following[0], tz).date() <= timezone.localtime(moved[0], tz).date():
            return due
    return moved


def _exhausted(plan: Plan) -> bool:
    """Every node has produced all its occurrences (programme nodes never end)."""
    definition = definition_of(plan.version)
    anchor = timezone.localtime(plan.anchor).date()
    for node in definition.nodes:
        state = plan.state.get(node.key, {"next": 0})
        if node.every == "programme":
            return False
        risk, _, value = state.get("tiers", "/").partition("/")
        if state["next"] < len(occurrence_days(node, anchor, risk=risk, value=value)):
            return False
    return True


def generate(
    plan: Plan,
    patient: Patient | None = None,
    *,
    now: datetime | None = None,
    holidays: frozenset[date] | None = None,
) -> list[Task]:
    """Create the plan's tasks due within the horizon that do not exist yet; completes the
    plan when nothing is left to do. Idempotent."""
    now = now or timezone.now()
    patient = patient or plan.patient
    if holidays is None:
        holidays = holidays_for(patient.organisation_id)
    definition = definition_of(plan.version)
    tasks = [t for n in definition.nodes for t in node_tasks(plan, patient, n, now, holidays)]
    Task.objects.bulk_create(tasks)
    fields: dict[str, Any] = {"state": plan.state}
    if not tasks and _exhausted(plan) and not plan.tasks.filter(status=Task.Status.OPEN).exists():
        fields.update(status=Plan.Status.COMPLETED, ended_at=now)
    # Saved only while the plan is active: one stopped meanwhile (a supervisor at the same
    # moment, ``stop_plan``) keeps nothing planned here, and is not marked completed.
    if not Plan.objects.filter(pk=plan.pk, status=Plan.Status.ACTIVE).update(**fields):
        Task.objects.filter(pk__in=[t.pk for t in tasks if t.pk is not None]).delete()
        plan.refresh_from_db(fields=["status", "stop_reason", "ended_at"])
        return []
    for name, value in fields.items():
        setattr(plan, name, value)
    return tasks


def may_enrol(patient: Patient, pathway: Pathway, *, trigger: str, trigger_ref: str) -> bool:
    """Whether ``enrol`` would put the patient on the pathway (reads only)."""
    if patient.is_deceased or not pathway.enabled:
        return False
    plans = Plan.objects.filter(patient=patient, pathway=pathway)
    if plans.filter(status=Plan.Status.ACTIVE).exists():
        return False
    automatic = trigger not in ("manual", "programme")
    if automatic and plans.filter(stop_reason=Plan.StopReason.OPTED_OUT).exists():
        return False  # they said no to this pathway: only staff put them back on it
    # A plan of a stay whose discharge the hospital undid does not stand for its next one.
    earlier = plans.filter(trigger_ref=trigger_ref).exclude(stop_reason__in=UNDONE)
    return not (trigger_ref and earlier.exists())


def enrol(
    patient: Patient,
    pathway: Pathway,
    *,
    trigger: str,
    trigger_ref: str = "",
    reason: str = "",
    anchor: datetime | None = None,
    actor: Any = None,
    now: datetime | None = None,
) -> Plan | None:
    """Put ``patient`` on ``pathway`` (its current version) counted from ``anchor``; None
    when they are already on it, were already enrolled for this very event, or are dead."""
    if not may_enrol(patient, pathway, trigger=trigger, trigger_ref=trigger_ref):
        return None
    now = now or timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: losing the race below undoes only this
                plan = Plan.objects.create(
                    patient=patient,
                    organisation_id=patient.organisation_id,
                    pathway=pathway,
                    version=current_version(pathway),
                    trigger=trigger,
                    trigger_ref=trigger_ref[:100],
                    reason=reason[:300],
                    anchor=anchor or now,
                    started_at=now,
                    enrolled_by=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError:
            # Another process (a second worker, another machine) enrolled them in the same
            # pathway since ``may_enrol`` looked, and committed: they are on it, as asked.
            # Anything else is a real error.
            if Plan.objects.filter(
                patient=patient, pathway=pathway, status=Plan.Status.ACTIVE
            ).exists():
                return None
            raise
        tasks = generate(plan, patient, now=now)
        record(
            actor,
            "create",
            "plan",
            plan.pk,
            patient_id=patient.pk,
            actor_label="" if actor else f"{trigger}:{pathway.code}"[:150],
            summary=f"enrolled in {pathway.code} v{pathway.version} ({len(tasks)} tasks)",
        )
    return plan


def stop_plan(plan: Plan, reason: str, actor: Any = None, *, note: str = "") -> int:
    """Stop an active plan and cancel its open tasks; returns how many were cancelled."""
    if not plan.is_active:
        return 0
    now = timezone.now()
    with transaction.atomic():
        open_tasks = Task.objects.filter(plan=plan, status=Task.Status.OPEN)
        cancel = {
            "status": Task.Status.CANCELLED,
            "cancel_reason": stored(PLAN_STOPPED, reason=Plan.StopReason(reason).label)[:200],
            "closed_at": now,
        }
        cancelled = open_tasks.update(**cancel)
        # Stopped only if still active (stopped or completed by someone at the same moment:
        # theirs stands). A follow-up being saved that planned the next one (``generate``)
        # has committed it once this update has the plan's row: cancelled by the second.
        stopped = Plan.objects.filter(pk=plan.pk, status=Plan.Status.ACTIVE).update(
            status=Plan.Status.STOPPED, stop_reason=reason, ended_at=now
        )
        if not stopped:
            plan.refresh_from_db(fields=["status", "stop_reason", "ended_at"])
            return cancelled
        cancelled += open_tasks.update(**cancel)
        plan.status, plan.stop_reason, plan.ended_at = Plan.Status.STOPPED, reason, now
        record(
            actor,
            "update",
            "plan",
            plan.pk,
            patient_id=plan.patient_id,
            summary=f"plan stopped: {reason}" + (f" ({note[:100]})" if note else ""),
        )
    return cancelled


def stop_patient_plans(patient: Patient, reason: str, actor: Any = None) -> int:
    return sum(
        stop_plan(plan, reason, actor)
        for plan in Plan.objects.filter(patient=patient, status=Plan.Status.ACTIVE)
    )


def replan_tiers(patient_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """After a risk or value tier change: the frequency-matrix nodes of the patients' active
    plans drop their future tasks and are planned again at the new frequency, counted from
    the same trigger. Returns how many plans changed."""
    now = now or timezone.now()
    changed = 0
    plans = Plan.objects.filter(patient_id__in=list(patient_ids), status=Plan.Status.ACTIVE)
    for plan in plans.select_related("patient", "version"):
        patient = plan.patient
        tiers = "/".join(tier_key(patient.risk_tier, patient.value_tier))
        nodes = [
            n
            for n in definition_of(plan.version).nodes
            if n.every == "tier_matrix" and plan.state.get(n.key, {}).get("tiers") != tiers
        ]
        if not nodes:
            continue
        for node in nodes:
            plan.tasks.filter(node=node.key, status=Task.Status.OPEN, due_at__gt=now).update(
                status=Task.Status.CANCELLED,
                cancel_reason=stored(TIERS_CHANGED),
                closed_at=now,
            )
            before = plan.state.get(node.key, {"rev": 0})
            plan.state[node.key] = {"rev": before["rev"] + 1, "next": 0, "tiers": tiers}
            # What was made, tried or is still open at the old frequency is not planned
            # again: the new one goes on after the last of those (a call made yesterday is
            # not repeated today because the new frequency has one on yesterday's day).
            last = (
                plan.tasks.filter(node=node.key)
                .exclude(status=Task.Status.CANCELLED)
                .aggregate(last=Max("due_at"))["last"]
            )
            if last is not None:
                plan.state[node.key]["after"] = timezone.localtime(last).date().isoformat()
        generate(plan, patient, now=now)
        changed += 1
    return changed


MOOT_WITHIN = timedelta(days=14)


def cancel_moot_reminders(patient_id: int, visit_at: datetime, what: Any) -> int:
    """A revisit or admission happened: revisit reminders already due or due within the next
    two weeks are moot."""
    return Task.objects.filter(
        patient_id=patient_id,
        status=Task.Status.OPEN,
        purpose=Purpose.REVISIT_REMINDER,
        due_at__lte=visit_at + MOOT_WITHIN,
    ).update(
        status=Task.Status.CANCELLED,
        cancel_reason=stored(
            REMINDER_MOOT, what=what, day=f"{timezone.localtime(visit_at):%Y-%m-%d}"
        ),
        closed_at=timezone.now(),
    )


def extend_plans(*, now: datetime | None = None, batch: int = 500) -> dict[str, int]:
    """The nightly job: stop the plans of patients who died, and create the tasks that have
    come within the horizon. Idempotent."""
    now = now or timezone.now()
    stopped = 0
    for patient in Patient.objects.filter(
        deceased_on__isnull=False, plans__status=Plan.Status.ACTIVE
    ).distinct():
        stop_patient_plans(patient, Plan.StopReason.DECEASED)
        stopped += 1
    created = 0
    last = 0
    holidays: dict[int, frozenset[date]] = {}
    while True:
        plans = list(
            Plan.objects.filter(status=Plan.Status.ACTIVE, pk__gt=last)
            .select_related("patient", "version")
            .order_by("pk")[:batch]
        )
        if not plans:
            break
        with transaction.atomic():  # one batch at a time: ingest goes on between
            for plan in plans:
                org = plan.patient.organisation_id
                if org not in holidays:
                    holidays[org] = holidays_for(org)
                created += len(generate(plan, plan.patient, now=now, holidays=holidays[org]))
        last = plans[-1].pk
    return {"tasks_created": created, "patients_stopped": stopped}


def follow_the_move(patient: Patient, actor: Any = None) -> None:
    """The patient now belongs to ``patient.organisation`` (moved by its owner, within
    their organisations): their active plans, open follow-ups and open alerts go with them,
    so the new organisation's worklists show them and the old one's (whose staff may no
    longer open the patient) do not; work left with someone who cannot change the patient's
    record waits unassigned for the new organisation."""
    from careloop.accounts.models import User
    from careloop.followup.models import OPEN_STATUSES, Alert, AlertEvent
    from careloop.patients.access import can_change
    from careloop.system_texts import TRANSFERRED_TO, stored

    organisation_id = patient.organisation_id
    Plan.objects.filter(patient=patient, status=Plan.Status.ACTIVE).update(
        organisation_id=organisation_id
    )
    tasks = Task.objects.filter(patient=patient, status=Task.Status.OPEN)
    alerts = Alert.objects.filter(patient=patient, status__in=OPEN_STATUSES)
    # And to their care team there (the team scope of the worklist shows a team's tasks).
    tasks.update(organisation_id=organisation_id, team_id=patient.care_team_id)
    alerts.update(organisation_id=organisation_id)
    owners = {
        *tasks.values_list("assignee_id", flat=True),
        *alerts.values_list("assignee_id", flat=True),
    }
    # Nor one who may only read it through a share: they could not record nor act on it.
    gone = [u.pk for u in User.objects.filter(pk__in=owners) if not can_change(u, patient)]
    # Each alert's history says it moved (and, left unassigned, why its owner let go).
    note = stored(TRANSFERRED_TO, organisation=patient.organisation.name)
    unassigned = set(alerts.filter(assignee_id__in=gone).values_list("pk", flat=True))
    steps = AlertEvent.objects.bulk_create(
        AlertEvent(
            alert_id=pk, action="assign" if pk in unassigned else "note", actor=actor, note=note
        )
        for pk in alerts.values_list("pk", flat=True)
    )
    if gone:
        tasks.filter(assignee_id__in=gone).update(assignee=None)
        alerts.filter(assignee_id__in=gone).update(assignee=None)
    alert_events(steps)

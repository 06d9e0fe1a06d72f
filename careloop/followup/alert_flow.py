"""The alert lifecycle (F12): open → acknowledged → in progress → resolved (with an outcome)
→ verified by a supervisor. Every step is an ``AlertEvent`` saying who, when and why; an
alert whose deadline passes is escalated to the next role up (nurse → doctor → supervisor →
the supervisor of the organisation above)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from careloop.accounts.models import Organisation, User
from careloop.accounts.roles import Role
from careloop.audit.services import record
from careloop.followup.models import OPEN_STATUSES, Alert, AlertEvent
from careloop.followup.services import RESPONSE_TIME, nearest_owner
from careloop.interop.webhook_events import alert_events
from careloop.patients.access import can_change, staff_sees
from careloop.system_texts import ESCALATED, NO_DOCTOR_YET, NOBODY_HIGHER, UNASSIGNED, stored

S = Alert.Status

# Once someone is handling an alert, how long they have to resolve it.
HANDLING_TIME = {
    Alert.Severity.CRITICAL: timedelta(hours=4),
    Alert.Severity.HIGH: timedelta(hours=24),
    Alert.Severity.MEDIUM: timedelta(days=3),
    Alert.Severity.LOW: timedelta(days=7),
}

# Who is above whom when a deadline passes (a role's rank; higher handles escalations).
RANK = {Role.NURSE: 0, Role.HEALTH_MANAGER: 0, Role.DOCTOR: 1, Role.SUPERVISOR: 2}
ESCALATE_TO = [Role.DOCTOR, Role.SUPERVISOR]


class Action(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", _("Acknowledge")
    START = "start", _("Start handling")
    RESOLVE = "resolve", _("Resolve")
    VERIFY = "verify", pgettext_lazy("alert", "Verify")
    REOPEN = "reopen", _("Send back")
    ASSIGN = "assign", _("Reassign")
    NOTE = "note", _("Add a note")


# action → (statuses it applies to, status it leads to; None keeps the status)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    Action.ACKNOWLEDGE: ((S.OPEN,), S.ACKNOWLEDGED),
    Action.START: ((S.OPEN, S.ACKNOWLEDGED), S.IN_PROGRESS),
    Action.RESOLVE: ((S.ACKNOWLEDGED, S.IN_PROGRESS), S.RESOLVED),
    Action.VERIFY: ((S.RESOLVED,), S.VERIFIED),
    Action.REOPEN: ((S.RESOLVED,), S.IN_PROGRESS),
    Action.ASSIGN: (OPEN_STATUSES, None),
    Action.NOTE: (tuple(S.values), None),
}
LEAD_ACTIONS = {Action.VERIFY, Action.REOPEN}


class NotTheResolver(PermissionDenied):
    """Verifying an alert one resolved oneself: someone else verifies it."""


class AlertConflict(ValidationError):
    """The alert is not in a state the action applies to (someone else got there first)."""


@dataclass
class Step:
    """What a user asks to do with an alert."""

    action: str
    note: str = ""
    resolution: str = ""
    outcome: str = ""
    assignee: User | None = None


def allowed_actions(alert: Alert, user: Any) -> list[str]:
    """The actions ``user`` may take on ``alert`` now (buttons on the page)."""
    if not user.has_perm("followup.change_alert"):
        return []
    actions = []
    for action, (sources, _target) in TRANSITIONS.items():
        if alert.status not in sources:
            continue
        if action in LEAD_ACTIONS and not user.has_perm("followup.verify_alert"):
            continue
        if action == Action.VERIFY and _resolved_by(alert, user):
            continue  # someone else verifies it
        actions.append(action)
    return actions


def _resolved_by(alert: Alert, user: Any) -> bool:
    """Whether ``user`` resolved ``alert`` last."""
    last = alert.events.filter(action=Action.RESOLVE).order_by("-pk").first()
    return last is not None and last.actor_id == user.pk


def note_on(
    alert: Alert, text: str, *, action: str = Action.NOTE, at: datetime | None = None
) -> AlertEvent:
    """An event on ``alert``'s history that leaves its status as it is (no one's action: an
    escalation, the patient saying it again)."""
    event = AlertEvent.objects.create(
        alert=alert,
        action=action,
        from_status=alert.status,
        to_status=alert.status,
        note=text,
        at=at or timezone.now(),
    )
    alert_events([event])
    return event


def _check(alert: Alert, actor: Any, step: Step) -> None:
    if step.action not in TRANSITIONS:
        raise ValidationError(_("Unknown action: %(a)s") % {"a": step.action})
    if not actor.has_perm("followup.change_alert"):
        raise PermissionDenied("no permission to handle alerts")
    if step.action in LEAD_ACTIONS and not actor.has_perm("followup.verify_alert"):
        raise PermissionDenied("only a supervisor verifies or sends back an alert")
    lead = actor.has_perm("followup.assign_task")
    # Whom to, when not said, is a field missing (below), not a role's refusal.
    if step.action == Action.ASSIGN and step.assignee not in (None, actor) and not lead:
        raise PermissionDenied("only a supervisor assigns an alert to someone else")
    sources, _target = TRANSITIONS[step.action]
    if alert.status not in sources:
        # Whoever got there first (a colleague, or this same click sent twice), and when.
        last = (
            alert.events.filter(to_status=alert.status, actor__isnull=False)
            .exclude(from_status=F("to_status"))
            .select_related("actor")
            .order_by("-at", "-pk")
            .first()
        )
        said = {"action": Action(step.action).label, "status": alert.get_status_display()}
        if last is None:
            raise AlertConflict(
                _("Cannot %(action)s an alert that is %(status)s.") % said, code="conflict"
            )
        raise AlertConflict(
            _("Cannot %(action)s an alert that is %(status)s: %(who)s made it so at %(when)s.")
            % {
                **said,
                "who": last.actor,
                "when": timezone.localtime(last.at).strftime("%m-%d %H:%M"),
            },
            code="conflict",
        )
    if step.action == Action.VERIFY and _resolved_by(alert, actor):
        raise NotTheResolver(_("Someone other than who resolved the alert verifies it."))
    if step.action == Action.RESOLVE:
        if step.resolution not in Alert.Resolution.values:
            raise ValidationError({"resolution": [_("Choose how the alert ended.")]})
        if not step.outcome.strip():
            raise ValidationError({"outcome": [_("Say what was done.")]})
    if step.action == Action.REOPEN and not step.note.strip():
        raise ValidationError({"note": [_("Say why the alert is sent back.")]})
    if step.action == Action.NOTE and not step.note.strip():
        raise ValidationError({"note": [_("The note is empty.")]})
    if step.action == Action.ASSIGN:
        if step.assignee is None:
            raise ValidationError({"assignee": [_("Choose whom to assign the alert to.")]})
        if not can_change(step.assignee, alert.patient):
            # An owner who cannot open the patient cannot act on it (as new alerts avoid),
            # nor one who may only read it through a share (acting changes the record).
            raise ValidationError(
                {"assignee": [_("Choose someone who can change this patient's record.")]}
            )


def do_transition(alert: Alert, actor: Any, step: Step) -> Alert:
    """Apply ``step`` to ``alert`` as ``actor``. ``AlertConflict`` when the alert has moved
    on, ``ValidationError`` naming the missing field, ``PermissionDenied`` for the role."""
    now = timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update(of=("self",)).get(pk=alert.pk)
        _check(alert, actor, step)
        before = alert.status
        target = TRANSITIONS[step.action][1]
        if target is not None:
            alert.status = target
        if step.action in (Action.ACKNOWLEDGE, Action.START) and alert.assignee_id is None:
            alert.assignee = actor  # whoever picks up an unowned alert owns it
        if step.action in (Action.START, Action.REOPEN):
            alert.due_at = now + HANDLING_TIME[Alert.Severity(alert.severity)]
        if step.action == Action.RESOLVE:
            alert.resolution, alert.outcome, alert.resolved_at = (
                step.resolution,
                step.outcome.strip(),
                now,
            )
        if step.action == Action.REOPEN:
            # Sent back: no longer how it ended (the resolving step keeps it in the history).
            alert.resolution, alert.outcome, alert.resolved_at = "", "", None
        if step.action == Action.VERIFY:
            alert.verified_by, alert.verified_at = actor, now
        if step.action == Action.ASSIGN:
            alert.assignee = step.assignee
        alert.save()
        note = step.note.strip()
        if step.action == Action.RESOLVE:
            note = f"{alert.get_resolution_display()}：{alert.outcome}" + (
                f"（{note}）" if note else ""
            )
        if step.action == Action.ASSIGN and step.assignee is not None:
            note = f"→ {step.assignee}" + (f"：{note}" if note else "")
        alert_events(
            [
                AlertEvent.objects.create(
                    alert=alert,
                    action=step.action,
                    from_status=before,
                    to_status=alert.status,
                    actor=actor,
                    note=note,
                    at=now,
                )
            ]
        )
        record(
            actor,
            "update",
            "alert",
            alert.pk,
            patient_id=alert.patient_id,
            summary=f"alert {step.action}: {before}→{alert.status}",
        )
    return alert


# ---------------------------------------------------------------- escalation


def _rank(user: User | None) -> int:
    if user is None:
        return -1
    return max((RANK.get(Role(code), -1) for code in user.role_codes if code in RANK), default=-1)


def _ancestors(organisation: Organisation) -> list[int]:
    """The organisation and those above it, nearest first."""
    return organisation.lineage[::-1]


def least_busy(role: str, organisation_ids: list[int], exclude: int | None) -> User | None:
    """The staff member with ``role`` in the nearest of ``organisation_ids`` who has the
    fewest open alerts."""
    staff = (
        User.objects.filter(is_active=True, groups__name=role, organisation_id__in=organisation_ids)
        .exclude(pk=exclude or 0)
        .annotate(load=Count("alerts", filter=Q(alerts__status__in=OPEN_STATUSES)))
    )
    by_org: dict[int, list[User]] = {}
    for user in staff.order_by("load", "pk"):
        by_org.setdefault(user.organisation_id or 0, []).append(user)
    for pk in organisation_ids:
        if by_org.get(pk):
            return by_org[pk][0]
    return None


def next_owner(alert: Alert) -> User | None:
    """Whom the alert goes to when its deadline passes: the patient's responsible doctor or
    a doctor, then a supervisor, of the alert's organisation or the nearest above it; a
    supervisor's alert goes to the supervisor of the organisation above theirs."""
    current = alert.assignee
    rank = _rank(current)
    orgs = _ancestors(alert.organisation)
    doctor = alert.patient.responsible_doctor
    if (
        rank < RANK[Role.DOCTOR]
        and doctor is not None
        and doctor.pk != getattr(current, "pk", None)
        and doctor.has_role(Role.DOCTOR)
        and staff_sees(doctor.pk, alert.patient)
    ):
        return doctor
    for role in ESCALATE_TO:
        if RANK[role] > rank:
            found = least_busy(role, orgs, getattr(current, "pk", None))
            if found is not None:
                return found
    if current is not None and current.organisation is not None:
        above = _ancestors(current.organisation)[1:]
        return least_busy(Role.SUPERVISOR, above, current.pk)
    return None


def escalate(alert: Alert, now: datetime) -> bool:
    """Escalate one alert whose deadline has passed (locked by the caller); False when it
    has been handled meanwhile."""
    if alert.status not in OPEN_STATUSES or alert.due_at is None or alert.due_at > now:
        return False
    owner = next_owner(alert)
    before = alert.assignee
    alert.escalation_level += 1
    alert.due_at = now + RESPONSE_TIME[Alert.Severity(alert.severity)]
    if owner is not None:
        alert.assignee = owner
        note = stored(ESCALATED, before=before or UNASSIGNED, owner=owner)
    else:
        note = stored(NOBODY_HIGHER, before=before or UNASSIGNED)
    alert.save(update_fields=["escalation_level", "due_at", "assignee", "updated_at"])
    note_on(alert, note, action="escalate", at=now)
    return True


def own_critical_values(*, now: datetime | None = None, batch: int = 200) -> int:
    """The sweep (every minute): a critical-value alert nobody owns — its patient has no
    responsible doctor yet, say one a laboratory's message has just enrolled — goes at once to
    the least busy doctor, else supervisor, of its organisation or the nearest above it,
    rather than waiting for its deadline to escalate it; the owner is then told like any
    other (``outreach.staff_notify``). Done here, not as results are stored, so the result
    processor's write lock is never held for it. Rows another worker holds are skipped."""
    now = now or timezone.now()
    done = 0
    with transaction.atomic():
        alerts = list(
            Alert.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                kind=Alert.Kind.CRITICAL_VALUE,
                status__in=OPEN_STATUSES,
                assignee=None,
                escalation_level=0,
            )
            .order_by("created_at")[:batch]
        )
        for alert in alerts:
            owner_id = nearest_owner(alert.organisation_id)
            if owner_id is None:
                continue  # nobody to give it to: the organisation's queue, then escalation
            alert.assignee = User.objects.get(pk=owner_id)
            alert.save(update_fields=["assignee", "updated_at"])
            note_on(
                alert, stored(NO_DOCTOR_YET, owner=alert.assignee), action=Action.ASSIGN, at=now
            )
            done += 1
    return done


def escalate_overdue(*, now: datetime | None = None, batch: int = 200) -> int:
    """The sweep (every minute): escalate every open alert past its deadline. Rows another
    worker holds are skipped; the next sweep gets them."""
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            alerts = list(
                Alert.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(status__in=OPEN_STATUSES, due_at__lte=now)
                .select_related(
                    "organisation", "assignee__organisation", "patient__responsible_doctor"
                )
                .order_by("due_at")[:batch]
            )
            for alert in alerts:
                done += escalate(alert, now)
        if len(alerts) < batch:
            return done

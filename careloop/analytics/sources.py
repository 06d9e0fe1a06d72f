"""The rows each dashboard figure counts, as querysets within a scope. A figure's number is
the count of one of these; its drill-down lists the same queryset, so the two always agree.

Attribution: tasks and contacts count for the team and person they were assigned to
(``Task.team``, ``Task.assignee``, a record's author), so a patient moved to another team
leaves their past work where it was done. Patient-based figures follow the patient's care
team now; alerts follow their assignee for a person."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from careloop.accounts.models import User
from careloop.accounts.roles import Role
from careloop.analytics.scope import Scope
from careloop.clinical.models import DiagnosticReport, Encounter
from careloop.followup.models import Alert, AlertEvent, FollowUpRecord, Plan, Task
from careloop.outreach.models import Message
from careloop.outreach.models.channels import AUTOMATED
from careloop.patients.models import Patient
from careloop.portal.models import PortalEvent
from careloop.questionnaires.models import QuestionnaireResponse

REPORT_VIEW_HOURS = 72
ATTEMPTED = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.FAILED)


def _narrow(rows: QuerySet[Any], scope: Scope, team: str, person: str) -> QuerySet[Any]:
    """Only the rows of the scope's team and person (``team``, ``person``: their fields)."""
    if scope.team is not None:
        rows = rows.filter(**{team: scope.team})
    if scope.person is not None:
        rows = rows.filter(**{person: scope.person})
    return rows


def tasks(scope: Scope) -> QuerySet[Task]:
    return _narrow(Task.objects.filter(scope.by_organisation()), scope, "team", "assignee")


def planned(scope: Scope) -> QuerySet[Task]:
    """Tasks due in the period that were not cancelled (a cancelled task was re-planned or
    made moot: its replacement, if any, is the one counted)."""
    return tasks(scope).filter(scope.in_period("due_at")).exclude(status=Task.Status.CANCELLED)


def done(scope: Scope) -> QuerySet[Task]:
    return planned(scope).filter(status=Task.Status.DONE)


def on_time(scope: Scope) -> QuerySet[Task]:
    return done(scope).filter(closed_at__lte=F("deadline"))


def patient_filter(scope: Scope, field: str = "patient") -> Q:
    """Rows about patients in scope (``field`` leads to the patient; "" for patients
    themselves): the patient's organisation and care team now; for a person, the patients
    with a task assigned to them."""
    to = f"{field}__" if field else ""
    condition = scope.by_organisation(f"{to}organisation")
    if scope.team is not None:
        condition &= Q(**{f"{to}care_team": scope.team})
    if scope.person is not None:
        mine = Task.objects.filter(assignee=scope.person).values("patient_id")
        condition &= Q(**{f"{to}pk__in": mine})
    return condition


def patients(scope: Scope) -> QuerySet[Patient]:
    return Patient.objects.filter(patient_filter(scope, ""))


def alerts(scope: Scope) -> QuerySet[Any]:  # Alert with responded_at
    """Alerts raised in the period, with ``responded_at``: the first move out of "open"."""
    # Staying open is no answer: the sweep giving it to a doctor, an escalation past its
    # deadline or a note leave it open (counted as answered, an escalation after 30 minutes
    # gave a response time of 30 minutes to an alert nobody had touched).
    first = AlertEvent.objects.filter(alert=OuterRef("pk"), from_status=Alert.Status.OPEN).exclude(
        to_status=Alert.Status.OPEN
    )
    rows = Alert.objects.filter(scope.by_organisation(), scope.in_period("created_at"))
    rows = _narrow(rows, scope, "patient__care_team", "assignee")
    return rows.annotate(responded_at=Subquery(first.order_by("at").values("at")[:1]))


def records(scope: Scope) -> QuerySet[FollowUpRecord]:
    """Staff contact attempts (calls, visits) recorded in the period. Not what the system
    recorded on an automated channel (a reminder closed by its send, the patient's reply or
    questionnaire answering a message, a voice call's result): there the attempt is the
    message, counted in ``messages``."""
    rows = FollowUpRecord.objects.filter(
        scope.by_organisation("task__organisation"), scope.in_period("at")
    ).exclude(by__isnull=True, channel__in=[value for value, _label in AUTOMATED])
    return _narrow(rows, scope, "task__team", "by")


def messages(scope: Scope) -> QuerySet[Message]:
    """Automated messages and calls handed to a provider in the period."""
    rows = Message.objects.filter(
        scope.by_organisation(), scope.in_period("sent_at"), status__in=ATTEMPTED
    )
    return _narrow(rows, scope, "task__team", "task__assignee")


def satisfaction(scope: Scope) -> QuerySet[QuestionnaireResponse]:
    """Answered 0–10 recommendation questions (NPS) in the period."""
    return QuestionnaireResponse.objects.filter(
        patient_filter(scope), scope.in_period("submitted_at")
    ).exclude(nps="")


def reports(scope: Scope) -> QuerySet[Any]:  # DiagnosticReport with issued, viewed
    """Reports issued in the period, with ``viewed``: the patient opened their report page
    within 72 hours."""
    issued = Coalesce("issued_at", "effective_at")
    rows = DiagnosticReport.objects.annotate(issued=issued).filter(
        patient_filter(scope), scope.in_period("issued")
    )
    view = PortalEvent.objects.filter(
        patient=OuterRef("patient_id"),
        kind=PortalEvent.Kind.VIEW,
        page="report",
        at__gte=OuterRef("issued"),
        at__lt=OuterRef("issued") + timedelta(hours=REPORT_VIEW_HOURS),
    )
    return rows.annotate(viewed=Exists(view))


READMISSION_DAYS = 30


def discharges(scope: Scope) -> QuerySet[Any]:
    """Hospital stays that ended in the period, with ``readmitted``: another stay of the
    patient began within 30 days after the discharge (a stay cancelled is neither)."""
    stays = Encounter.objects.filter(kind=Encounter.Kind.INPATIENT).exclude(
        status=Encounter.Status.CANCELLED  # cancelled by the hospital (HL7 ADT^A11)
    )
    again = stays.filter(
        patient=OuterRef("patient_id"),
        started_at__gt=OuterRef("ended_at"),
        started_at__lte=OuterRef("ended_at") + timedelta(days=READMISSION_DAYS),
    )
    rows = stays.filter(patient_filter(scope), scope.in_period("ended_at"))
    return rows.annotate(readmitted=Exists(again))


def reminders(scope: Scope) -> QuerySet[Task]:
    return done(scope).filter(purpose="revisit_reminder")


def high_risk_plans(scope: Scope) -> QuerySet[Any]:  # Plan with first_contact
    """Plans started in the period for patients who are high risk."""
    rows = Plan.objects.filter(
        scope.by_organisation(), scope.in_period("started_at"), patient__risk_tier="high"
    )
    if scope.team is not None:
        rows = rows.filter(patient__care_team=scope.team)
    if scope.person is not None:
        mine = Task.objects.filter(assignee=scope.person).values("plan_id")
        rows = rows.filter(pk__in=mine)
    first = Task.objects.filter(
        patient=OuterRef("patient_id"),
        status=Task.Status.DONE,
        closed_at__gte=OuterRef("started_at"),
    ).order_by("closed_at")
    return rows.annotate(first_contact=Subquery(first.values("closed_at")[:1]))


def staff(scope: Scope) -> QuerySet[User]:
    """Active staff with a role in the organisation (or the team, or the one person); an
    administrator, who configures the system and follows no patients, only with another."""
    caring = [role.value for role in Role if role != Role.ADMIN]
    rows = User.objects.filter(
        scope.by_organisation(), is_active=True, groups__name__in=caring
    ).distinct()
    if scope.team is not None:
        rows = rows.filter(teams=scope.team)
    if scope.person is not None:
        rows = rows.filter(pk=scope.person.pk)
    return rows


def managed(scope: Scope) -> QuerySet[Patient]:
    """Patients under follow-up now: an active plan."""
    return patients(scope).filter(plans__status=Plan.Status.ACTIVE).distinct()

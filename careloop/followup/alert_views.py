"""Staff pages of alerts (预警): the list (mine / all I can see, by severity and deadline) and
one alert with its history and the buttons of its next steps."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.audit.services import record
from careloop.followup.alert_flow import (
    Action,
    NotTheResolver,
    Step,
    allowed_actions,
    do_transition,
)
from careloop.followup.models import OPEN_STATUSES, Alert
from careloop.followup.staff import staff_who_can
from careloop.followup.step_forms import TransitionForm
from careloop.patients.access import get_patient_for, patients_for
from careloop.typing import AuthedRequest

PAGE_SIZE = 50
SEVERITY_ORDER = Case(
    *[When(severity=s, then=Value(i)) for i, s in enumerate(Alert.Severity.values)],
    output_field=IntegerField(),
)
STATUS_FILTERS = {
    "open": OPEN_STATUSES,
    "resolved": (Alert.Status.RESOLVED,),
    "verified": (Alert.Status.VERIFIED,),
    "all": tuple(Alert.Status.values),
}


def visible_alerts(user: Any) -> QuerySet[Alert]:
    """Alerts on the patients ``user`` can see."""
    return Alert.objects.filter(patient__in=patients_for(user).values("pk"))


@login_required
@permission_required("followup.view_alert", raise_exception=True)
def alert_list(request: AuthedRequest) -> HttpResponse:
    get = request.GET
    # Leads (who assign and verify) start on everything they can see: theirs is often empty.
    lead = request.user.has_perm("followup.assign_task")
    scope = get.get("scope", "")
    scope = scope if scope in ("mine", "all") else ("all" if lead else "mine")
    status = get.get("status", "")
    status = status if status in STATUS_FILTERS else "open"
    alerts = visible_alerts(request.user).filter(status__in=STATUS_FILTERS[status])
    if scope == "mine":
        alerts = alerts.filter(assignee=request.user)
    severity = get.get("severity", "")
    if severity in Alert.Severity.values:
        alerts = alerts.filter(severity=severity)
    kind = get.get("kind", "")
    if kind in Alert.Kind.values:
        alerts = alerts.filter(kind=kind)
    if get.get("late"):
        alerts = alerts.filter(due_at__lt=timezone.now())
    alerts = alerts.select_related("patient", "assignee").order_by(SEVERITY_ORDER, "due_at", "-id")
    page = Paginator(alerts, PAGE_SIZE).get_page(get.get("page"))
    query = {k: v for k, v in get.items() if k != "page" and v}
    shown = [a.patient_id for a in page.object_list]
    if shown:
        record(
            request.user,
            "list",
            "alert",
            summary=f"alerts {scope}/{status} ({len(shown)} shown)",
            changes={"patients": shown},
        )
    context = {
        "page": page,
        "querystring": urlencode(query),
        "scope": scope,
        "status": status,
        "severity": severity,
        "kind": kind,
        "late": bool(get.get("late")),
        "scopes": [("mine", _("Mine")), ("all", _("All I can see"))],
        "statuses": [
            ("open", _("Open")),
            ("resolved", _("Waiting for verification")),
            ("verified", _("Verified")),
            ("all", _("All")),
        ],
        "severities": Alert.Severity.choices,
        "kinds": Alert.Kind.choices,
        "now": timezone.now(),
    }
    return render(request, "followup/alert_list.html", context)


@login_required
@permission_required("followup.view_alert", raise_exception=True)
def alert_page(request: AuthedRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(
        Alert.objects.select_related("patient", "assignee", "observation", "task", "verified_by"),
        pk=pk,
    )
    get_patient_for(request.user, alert.patient_id)  # 404 when out of reach
    staff = staff_who_can(request.user, "change_alert")
    form = TransitionForm(request.POST or None, staff=staff)
    if request.method == "POST":
        get_patient_for(request.user, alert.patient_id, write=True)  # not on a read share
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        step = Step(
            action=data["action"],
            note=data["note"],
            resolution=data["resolution"],
            outcome=data["outcome"],
            assignee=request.user if request.POST.get("take") else data["assignee"],
        )
        try:
            do_transition(alert, request.user, step)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            alert.refresh_from_db()  # as someone else left it: the buttons that apply now
        except NotTheResolver as exc:  # a stale page's verify button: said on the page
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("Done: %(action)s.") % {"action": Action(step.action).label}
            )
            return redirect("alerts:detail", pk=alert.pk)
    record(request.user, "view", "alert", alert.pk, patient_id=alert.patient_id)
    actions = allowed_actions(alert, request.user)
    events = list(alert.events.select_related("actor"))
    context = {
        "alert": alert,
        "patient": alert.patient,
        "events": events,
        # Raised by hand, the raising is a step of its own (who, why): not said twice.
        "raised_as_step": any(e.action == "raise" for e in events),
        "actions": actions,
        "form": form,
        "staff": staff if request.user.has_perm("followup.assign_task") else [],
        "resolutions": Alert.Resolution.choices,
        "now": timezone.now(),
    }
    return render(request, "followup/alert.html", context)

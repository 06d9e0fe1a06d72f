"""The list behind a dashboard number, as uniform rows (when, patient, what, state, link)
for the drill-down page and the Excel export. ``Listing`` joins several querysets (a
channel's staff records and messages) and pages like one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from careloop.accounts.models import User
from careloop.analytics.metrics import LISTS, channel_list
from careloop.analytics.scope import Scope
from careloop.clinical.models import DiagnosticReport, Encounter
from careloop.followup.models import Alert, FollowUpRecord, Plan, Task
from careloop.followup.models.plans import channel_label
from careloop.outreach.models import Message
from careloop.patients.models import Patient
from careloop.questionnaires.models import QuestionnaireResponse


class UnknownList(LookupError):
    pass


@dataclass
class Row:
    when: datetime | None
    patient: Patient | None
    what: str
    state: str
    url: str


def _task(t: Task) -> Row:
    return Row(
        t.due_at, t.patient, t.title, t.get_status_display(), reverse("followup:task", args=[t.pk])
    )


def _patient(p: Patient) -> Row:
    """A patient: their care team (what) and risk tier (state); the card number has its
    own column."""
    team = p.care_team.name if p.care_team else ""
    tier = p.get_risk_tier_display() if p.risk_tier else ""
    return Row(None, p, team, tier, reverse("patients:detail", args=[p.pk]))


def _response(r: QuestionnaireResponse) -> Row:
    title = r.version.questionnaire.title
    state = r.get_nps_display() if hasattr(r, "get_nps_display") else r.nps
    return Row(
        r.submitted_at, r.patient, title, state, reverse("questionnaires:response", args=[r.pk])
    )


def _alert(a: Alert) -> Row:
    answered = getattr(a, "responded_at", None)
    state = a.get_status_display()
    if answered:
        minutes = (answered - a.created_at).total_seconds() / 60
        state += " · " + _("answered in %(m)s min") % {"m": f"{minutes:.0f}"}
    return Row(a.created_at, a.patient, a.title, state, reverse("alerts:detail", args=[a.pk]))


def _report(r: DiagnosticReport) -> Row:
    state = _("viewed") if getattr(r, "viewed", False) else _("not viewed")
    return Row(
        getattr(r, "issued", r.effective_at),
        r.patient,
        r.name or r.code,
        state,
        reverse("patients:detail", args=[r.patient_id]),
    )


def _plan(p: Plan) -> Row:
    first = getattr(p, "first_contact", None)
    state = (
        _("first follow-up %(at)s") % {"at": f"{first:%Y-%m-%d %H:%M}"}
        if first
        else _("no follow-up yet")
    )
    return Row(
        p.started_at,
        p.patient,
        p.pathway.name,
        state,
        reverse("patients:detail", args=[p.patient_id]),
    )


def _stay(e: Encounter) -> Row:
    state = _("readmitted within 30 days") if getattr(e, "readmitted", False) else ""
    what = " ".join(x for x in (e.department, e.reason) if x) or e.get_kind_display()
    return Row(e.ended_at, e.patient, what, state, reverse("patients:detail", args=[e.patient_id]))


def _user(u: User) -> Row:
    return Row(None, None, u.display_name or u.username, str(u.organisation or ""), "")


def _record(r: FollowUpRecord) -> Row:
    return Row(
        r.at,
        r.patient,
        channel_label(r.channel),
        r.get_outcome_display(),
        reverse("followup:task", args=[r.task_id]),
    )


def _message(m: Message) -> Row:
    return Row(m.sent_at, m.patient, channel_label(m.channel), m.get_status_display(), "")


ROWS: dict[type, Any] = {
    Task: (_task, ["patient"]),
    Patient: (_patient, ["care_team"]),
    QuestionnaireResponse: (_response, ["patient", "version__questionnaire"]),
    Alert: (_alert, ["patient"]),
    DiagnosticReport: (_report, ["patient"]),
    Plan: (_plan, ["patient", "pathway"]),
    User: (_user, ["organisation"]),
    Encounter: (_stay, ["patient"]),
    FollowUpRecord: (_record, ["patient"]),
    Message: (_message, ["patient"]),
}


class Listing:
    """Several querysets read as one list: ``count()`` and slices, for Paginator."""

    def __init__(self, querysets: list[QuerySet[Any]]) -> None:
        self.querysets = [
            qs.select_related(*ROWS[qs.model][1]).order_by(*self._order(qs)) for qs in querysets
        ]
        self._counts: list[int] | None = None

    @staticmethod
    def _order(qs: QuerySet[Any]) -> list[Any]:
        return (
            ["-pk"]
            if qs.model in (Patient, User)
            else list(qs.query.order_by or qs.model._meta.ordering or ["-pk"])
        )

    def counts(self) -> list[int]:
        if self._counts is None:
            self._counts = [qs.count() for qs in self.querysets]
        return self._counts

    def count(self) -> int:
        return sum(self.counts())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[Row]:
        start, stop = window.start or 0, window.stop if window.stop is not None else self.count()
        rows: list[Row] = []
        for qs, n in zip(self.querysets, self.counts(), strict=True):
            if start < n and stop > 0:
                convert = ROWS[qs.model][0]
                rows.extend(convert(item) for item in qs[max(start, 0) : min(stop, n)])
            start, stop = start - n, stop - n
        return rows


def only_visible(rows: list[Row], user: Any) -> list[Row]:
    """The rows with patients ``user`` may not see (moved or handed to another
    organisation since) kept for the count but without who they are."""
    from careloop.patients.access import patients_for

    ids = {row.patient.pk for row in rows if row.patient is not None}
    seen = set(patients_for(user).filter(pk__in=ids).values_list("pk", flat=True))
    for row in rows:
        if row.patient is not None and row.patient.pk not in seen:
            row.patient, row.url = None, ""
            row.what = _("(a patient of another organisation)")
    return rows


def listing(scope: Scope, key: str) -> Listing:
    """The list ``key`` (a Part's key) in ``scope``; UnknownList when there is none."""
    if ":" in key:
        kind, _sep, channel = key.partition(":")
        if not channel:  # "attempts:" typed by hand was a server error (no label for it)
            raise UnknownList(key)
        if kind == "done":
            return Listing([LISTS["done"](scope).filter(channel=channel)])
        if kind not in ("attempts", "connected"):
            raise UnknownList(key)
        return Listing(list(channel_list(scope, channel, connected=kind == "connected")))
    if key not in LISTS:
        raise UnknownList(key)
    return Listing([LISTS[key](scope)])

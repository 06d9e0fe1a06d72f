"""The dashboard's figures (F15). Each is a value with the counts it comes from
(``Part``); every part names a list (``drill``) whose length is that count.

Definitions (the period is whole local days, see ``scope``):
- completion rate = done ÷ planned; planned = tasks due in the period, not cancelled;
- on-time rate = done by the task's latest time ÷ done;
- coverage = patients with a done task ÷ patients with a planned task;
- satisfaction = NPS: % promoters (9–10) − % detractors (0–6) of answered NPS questions;
- revisit conversion = patients reminded (a done 复诊提醒 task) who then came (a revisit
  request, not a consultation, attended) ÷ patients reminded; bookings (requested within 30
  days after the reminder) are shown between the two;
- alert response time = raised → first acknowledgement (or any move out of "open"):
  median and 90th percentile, in minutes, over alerts answered;
- connect rate per channel = attempts that reached the patient ÷ attempts: staff records
  with outcome "reached", automated messages delivered (an answered call for voice);
  automated voice under 60% is flagged;
- report view rate = reports issued whose patient opened the report page within 72 h;
- time to first intervention = hours from a high-risk patient's enrolment to the first done
  follow-up (median);
- patients per staff member = patients with an active plan ÷ active staff with a role
  other than administrator;
- cost per follow-up = Σ attempts × the channel's unit cost ÷ done tasks;
- 30-day readmission = hospital stays ended in the period followed by another stay of the
  patient starting within 30 days ÷ stays ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from careloop.analytics import national, rollup, sources
from careloop.analytics.figure import Figure, Part, percentile, ratio
from careloop.analytics.scope import Scope
from careloop.followup.models import Outcome, RevisitRequest
from careloop.outreach.models import Message
from careloop.patients.models import Channel, Patient

VOICE_CONNECT_FLOOR = 0.6
BOOKING_DAYS = 30  # a booking this long after a reminder counts for it


# -- the lists behind the figures ---------------------------------------------------------

Lister = Callable[[Scope], QuerySet[Any]]


def _channel(code: str) -> str:
    return str(Channel(code).label) if code in Channel.values else code


def _patients(ids: QuerySet[Any]) -> QuerySet[Patient]:
    return Patient.objects.filter(pk__in=ids)


def _booked(scope: Scope) -> QuerySet[RevisitRequest]:
    """Revisit requests (not consultations) booked (or attended, or missed) after a reminder
    in the period, at most 30 days after it."""
    reminded = sources.reminders(scope).filter(
        patient=OuterRef("patient_id"),
        closed_at__lte=OuterRef("requested_at"),
        closed_at__gte=OuterRef("requested_at") - timedelta(days=BOOKING_DAYS),
    )
    return RevisitRequest.objects.filter(
        Exists(reminded),
        kind=RevisitRequest.Kind.REVISIT,  # a consultation (by telephone, maybe) is no visit
        status__in=[
            RevisitRequest.Status.BOOKED,
            RevisitRequest.Status.ATTENDED,
            RevisitRequest.Status.MISSED,
        ],
    )


LABELS: dict[str, Any] = {
    "planned": gettext_lazy("follow-ups due"),
    "done": gettext_lazy("done"),
    "on_time": gettext_lazy("on time"),
    "planned_patients": gettext_lazy("patients with follow-ups due"),
    "covered_patients": gettext_lazy("patients followed up"),
    "reminded": gettext_lazy("patients reminded"),
    "booked": gettext_lazy("booked"),
    "visited": gettext_lazy("came"),
    "reports": gettext_lazy("reports issued"),
    "viewed": gettext_lazy("viewed within 72 h"),
    "managed": gettext_lazy("patients under follow-up"),
    "staff": gettext_lazy("staff"),
    "not_done": gettext_lazy("not done"),
    "late": gettext_lazy("late"),
    "nps_responses": gettext_lazy("answers"),
    "promoters": gettext_lazy("promoters (9–10)"),
    "detractors": gettext_lazy("detractors (0–6)"),
    "alerts": gettext_lazy("alerts raised"),
    "answered": gettext_lazy("answered"),
    "unanswered": gettext_lazy("not yet answered"),
    "high_risk": gettext_lazy("high-risk enrolments"),
    "intervened": gettext_lazy("followed up"),
    "discharges": gettext_lazy("discharges"),
    "readmitted": gettext_lazy("readmitted within 30 days"),
    "attempts": gettext_lazy("attempts"),
    "connected": gettext_lazy("connected"),
}


LISTS: dict[str, Lister] = {
    "planned": sources.planned,
    "done": sources.done,
    "not_done": lambda s: sources.planned(s).exclude(pk__in=sources.done(s).values("pk")),
    "on_time": sources.on_time,
    "late": lambda s: sources.done(s).exclude(pk__in=sources.on_time(s).values("pk")),
    "planned_patients": lambda s: _patients(sources.planned(s).values("patient_id")),
    "covered_patients": lambda s: _patients(sources.done(s).values("patient_id")),
    "nps_responses": sources.satisfaction,
    "promoters": lambda s: sources.satisfaction(s).filter(nps="promoter"),
    "detractors": lambda s: sources.satisfaction(s).filter(nps="detractor"),
    "reminded": lambda s: _patients(sources.reminders(s).values("patient_id")),
    "booked": lambda s: _patients(_booked(s).values("patient_id")),
    "visited": lambda s: _patients(
        _booked(s).filter(status=RevisitRequest.Status.ATTENDED).values("patient_id")
    ),
    "alerts": sources.alerts,
    "answered": lambda s: sources.alerts(s).filter(responded_at__isnull=False),
    "unanswered": lambda s: sources.alerts(s).filter(responded_at__isnull=True),
    "reports": sources.reports,
    "viewed": lambda s: sources.reports(s).filter(viewed=True),
    "high_risk": sources.high_risk_plans,
    "intervened": lambda s: sources.high_risk_plans(s).filter(first_contact__isnull=False),
    "discharges": sources.discharges,
    "readmitted": lambda s: sources.discharges(s).filter(readmitted=True),
    "managed": sources.managed,
    "staff": sources.staff,
    **national.LISTS,
}
LABELS.update(national.LABELS)


def list_label(key: str) -> str:
    """What the list ``key`` holds, for its page."""
    kind, _sep, channel = key.partition(":")
    if channel:
        return f"{_channel(channel)} · {LABELS[kind]}"
    return str(LABELS[key])


def channel_list(scope: Scope, channel: str, connected: bool) -> tuple[QuerySet[Any], ...]:
    """The attempts on one channel (or those that connected): staff records and messages."""
    records = sources.records(scope).filter(channel=channel)
    messages = sources.messages(scope).filter(channel=channel)
    if connected:
        records = records.filter(outcome=Outcome.REACHED)
        messages = messages.filter(status=Message.Status.DELIVERED)
    return records, messages


# -- the figures --------------------------------------------------------------------------


def _part(scope: Scope, key: str) -> Part:
    """The count of list ``key``: from the kept counts for the follow-up task lists (equal
    to the list's length, see ``rollup``), else by counting the list."""
    if key in rollup.COUNTS:
        return Part(key, str(LABELS[key]), getattr(rollup.totals(scope), key))
    return Part(key, str(LABELS[key]), LISTS[key](scope).count())


def _rate(scope: Scope, key: str, label: str, whole: str, share: str, rest: str = "") -> Figure:
    """share ÷ whole as a fraction, with the parts; ``rest`` (whole − share) when named."""
    of, part = _part(scope, whole), _part(scope, share)
    parts = [of, part]
    if rest:
        parts.append(Part(rest, str(LABELS[rest]), of.count - part.count))
    return Figure(key, label, ratio(part.count, of.count), "%", parts)


def completion(scope: Scope) -> Figure:
    return _rate(scope, "completion_rate", _("Completion rate"), "planned", "done", "not_done")


def punctuality(scope: Scope) -> Figure:
    return _rate(scope, "on_time_rate", _("On-time rate"), "done", "on_time", "late")


def coverage(scope: Scope) -> Figure:
    return _rate(scope, "coverage", _("Coverage"), "planned_patients", "covered_patients")


def nps(scope: Scope) -> Figure:
    counts = sources.satisfaction(scope).aggregate(
        n=Count("pk"),
        promoters=Count("pk", filter=Q(nps="promoter")),
        detractors=Count("pk", filter=Q(nps="detractor")),
    )
    n = counts["n"]
    value = round(100 * (counts["promoters"] - counts["detractors"]) / n, 1) if n else None
    return Figure(
        "satisfaction",
        _("Satisfaction (NPS)"),
        value,
        "",
        [
            Part("nps_responses", str(LABELS["nps_responses"]), n),
            Part("promoters", str(LABELS["promoters"]), counts["promoters"]),
            Part("detractors", str(LABELS["detractors"]), counts["detractors"]),
        ],
    )


def revisits(scope: Scope) -> Figure:
    reminded = _part(scope, "reminded")
    booked = _part(scope, "booked")
    visited = _part(scope, "visited")
    return Figure(
        "revisit_conversion",
        _("Revisit conversion"),
        ratio(visited.count, reminded.count),
        "%",
        [reminded, booked, visited],
        extra={"booking_rate": ratio(booked.count, reminded.count)},
    )


def minutes_between(rows: Iterable[tuple[Any, Any]]) -> list[float]:
    return [(later - earlier).total_seconds() / 60 for earlier, later in rows if later]


def alert_response(scope: Scope) -> Figure:
    rows = sources.alerts(scope)
    waits = minutes_between(rows.values_list("created_at", "responded_at"))
    raised = rows.count()
    median, p90 = percentile(waits, 0.5), percentile(waits, 0.9)
    return Figure(
        "alert_response_minutes",
        _("Alert response time (median, minutes)"),
        None if median is None else round(median, 1),
        "min",
        [
            Part("alerts", str(LABELS["alerts"]), raised),
            Part("answered", str(LABELS["answered"]), len(waits)),
            Part("unanswered", str(LABELS["unanswered"]), raised - len(waits)),
        ],
        extra={"p90": None if p90 is None else round(p90, 1)},
    )


def attempts_by_channel(scope: Scope) -> dict[str, tuple[int, int]]:
    """Contact attempts per channel and those that connected: staff records (reached) and
    messages handed to a provider (delivered). Read once for the connect rates and the
    costs (``figures``)."""
    attempts: dict[str, tuple[int, int]] = {}
    records = sources.records(scope).values("channel")
    messages = sources.messages(scope).values("channel")
    for rows in (
        records.annotate(n=Count("pk"), ok=Count("pk", filter=Q(outcome=Outcome.REACHED))),
        messages.annotate(n=Count("pk"), ok=Count("pk", filter=Q(status=Message.Status.DELIVERED))),
    ):
        for row in rows:
            n, ok = attempts.get(row["channel"], (0, 0))
            attempts[row["channel"]] = (n + row["n"], ok + row["ok"])
    return attempts


def connect_rates(scope: Scope, attempts: dict[str, tuple[int, int]] | None = None) -> list[Figure]:
    attempts = attempts if attempts is not None else attempts_by_channel(scope)
    figures = []
    for channel, (n, ok) in sorted(attempts.items()):
        value = ratio(ok, n)
        figures.append(
            Figure(
                f"connect_rate:{channel}",
                _("Connect rate: %(channel)s") % {"channel": _channel(channel)},
                value,
                "%",
                [
                    Part(f"attempts:{channel}", str(LABELS["attempts"]), n),
                    Part(f"connected:{channel}", str(LABELS["connected"]), ok),
                ],
                flagged=channel == Channel.VOICE
                and value is not None
                and value < VOICE_CONNECT_FLOOR,
            )
        )
    return figures


def report_views(scope: Scope) -> Figure:
    label = _("Report view rate within 72 h")
    return _rate(scope, "report_view_rate_72h", label, "reports", "viewed")


def readmissions(scope: Scope) -> Figure:
    label = _("30-day readmission rate")
    return _rate(scope, "readmission_30d_rate", label, "discharges", "readmitted")


def first_intervention(scope: Scope) -> Figure:
    rows = sources.high_risk_plans(scope)
    hours = [m / 60 for m in minutes_between(rows.values_list("started_at", "first_contact"))]
    median = percentile(hours, 0.5)
    return Figure(
        "first_intervention_hours",
        _("Time to first intervention, high risk (median, hours)"),
        None if median is None else round(median, 1),
        "h",
        [
            Part("high_risk", str(LABELS["high_risk"]), rows.count()),
            Part("intervened", str(LABELS["intervened"]), len(hours)),
        ],
    )


def staffing(scope: Scope) -> Figure:
    managed, staff = _part(scope, "managed"), _part(scope, "staff")
    value = round(managed.count / staff.count, 1) if staff.count else None
    return Figure("patients_per_staff", _("Patients per staff member"), value, "", [managed, staff])


def unit_costs() -> dict[str, float]:
    return dict(settings.CARELOOP_CHANNEL_COSTS)


def cost(scope: Scope, attempts_made: dict[str, tuple[int, int]] | None = None) -> Figure:
    prices = unit_costs()
    made = attempts_made if attempts_made is not None else attempts_by_channel(scope)
    by_channel = {channel: n for channel, (n, _ok) in made.items()}
    attempts = sum(by_channel.values())
    total = sum(n * prices.get(channel, 0.0) for channel, n in by_channel.items())
    done = _part(scope, "done")
    return Figure(
        "cost_per_followup",
        _("Cost per follow-up"),
        round(total / done.count, 2) if done.count else None,
        "¥",
        [done],
        extra={"total": round(total, 2), "attempts": attempts},
    )


def costs_by_channel(
    scope: Scope, attempts_made: dict[str, tuple[int, int]] | None = None
) -> list[Figure]:
    """Per channel: the cost of its attempts ÷ the follow-ups done on it (a task is done on
    the channel it was on when closed; attempts that passed it on to another channel count
    on theirs, so a channel whose tries all failed has a cost and no figure)."""
    prices = unit_costs()
    made = attempts_made if attempts_made is not None else attempts_by_channel(scope)
    attempts = {channel: n for channel, (n, _ok) in made.items()}
    done = dict(sources.done(scope).order_by().values_list("channel").annotate(n=Count("pk")))
    figures = []
    for channel in sorted(set(attempts) | set(done)):
        n, finished = attempts.get(channel, 0), done.get(channel, 0)
        total = n * prices.get(channel, 0.0)
        figures.append(
            Figure(
                f"cost_per_followup:{channel}",
                _("Cost per follow-up: %(channel)s") % {"channel": _channel(channel)},
                round(total / finished, 2) if finished else None,
                "¥",
                [
                    Part(f"done:{channel}", str(LABELS["done"]), finished),
                    Part(f"attempts:{channel}", str(LABELS["attempts"]), n),
                ],
                extra={"total": round(total, 2), "attempts": n},
            )
        )
    return figures


PANELS: list[Callable[[Scope], Figure]] = [
    completion,
    punctuality,
    coverage,
    nps,
    revisits,
    alert_response,
    report_views,
    first_intervention,
    readmissions,
    staffing,
]


def figures(scope: Scope) -> list[Figure]:
    attempts = attempts_by_channel(scope)  # the connect rates' and both costs'
    return (
        [panel(scope) for panel in PANELS]
        + [cost(scope, attempts)]
        + connect_rates(scope, attempts)
        + costs_by_channel(scope, attempts)
        + national.figures(scope)
    )

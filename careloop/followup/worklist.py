"""The worklist query: open tasks of a person or their teams, by section, ordered by a
priority score that is shown (alert severity + risk tier + how overdue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from careloop.accounts.models import Organisation
from careloop.followup.models import Task
from careloop.patients.access import scope_organisation_ids

SEVERITY_WEIGHT = {"critical": 100, "high": 60, "medium": 30, "low": 10}
RISK_WEIGHT = {"high": 30, "medium": 15}
# Days overdue → points (a task late a week outranks a fresh medium alert).
OVERDUE_POINTS = ((7, 40), (3, 25), (1, 15), (0, 5))

SECTIONS = ("due", "today", "overdue", "upcoming", "all")
SCOPES = ("mine", "team", "organisation")


@dataclass(frozen=True)
class Filters:
    scope: str = "mine"
    section: str = "due"
    tag: str = ""
    channel: str = ""
    pathway: str = ""
    organisation: int | None = None
    assignee: int | None = None  # one person's tasks (from the team page)

    @property
    def narrowed(self) -> bool:
        """Whether tag, channel, pathway, organisation or a person narrow the list."""
        return bool(self.tag or self.channel or self.pathway or self.organisation or self.assignee)


def end_of_today(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


# The weight of the patient's most severe open alert, as SQL: compiled once, where the same
# expression built from Case/When and a Subquery costs ~10 ms of Django compilation per page.
# Built from the constants above only (no user input).
_SEVERITY_CASE = " ".join(f"WHEN '{s}' THEN {w}" for s, w in SEVERITY_WEIGHT.items())
ALERT_WEIGHT_SQL = (
    f"COALESCE((SELECT MAX(CASE a.severity {_SEVERITY_CASE} ELSE 0 END) "  # noqa: S608
    "FROM followup_alert a WHERE a.patient_id = followup_task.patient_id "
    "AND a.status IN ('open', 'acknowledged', 'in_progress')), 0)"
)
OVERDUE_SQL = (
    "CASE "
    + " ".join("WHEN followup_task.deadline < %s THEN %s" for _ in OVERDUE_POINTS)
    + " ELSE 0 END"
)


def with_priority(tasks: QuerySet[Task], now: datetime) -> QuerySet[Task]:
    overdue_params: list[Any] = []
    for days, points in OVERDUE_POINTS:
        overdue_params += [now - timedelta(days=days), points]
    risk = Case(
        *[When(patient__risk_tier=t, then=Value(w)) for t, w in RISK_WEIGHT.items()],
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        tasks.annotate(
            alert_points=RawSQL(ALERT_WEIGHT_SQL, (), output_field=IntegerField()),  # noqa: S611
            risk_points=risk,
            overdue_points=RawSQL(  # noqa: S611 (constant SQL, the times as parameters)
                OVERDUE_SQL, overdue_params, output_field=IntegerField()
            ),
        )
        .annotate(priority=F("alert_points") + F("risk_points") + F("overdue_points"))
        .order_by("-priority", "due_at", "pk")
    )


def scoped(user: Any, scope: str) -> QuerySet[Task]:
    """Open tasks of ``user`` (mine), of their teams and the unassigned ones of their
    organisation (team), or of everything they can see (organisation)."""
    tasks = Task.objects.filter(status=Task.Status.OPEN)
    org_ids = scope_organisation_ids(user)
    if org_ids is not None:
        tasks = tasks.filter(organisation_id__in=org_ids)
    if scope == "mine":
        return tasks.filter(assignee=user)
    if scope == "team":
        team_ids = list(user.teams.values_list("pk", flat=True))
        mine = Q(team_id__in=team_ids) if team_ids else Q(pk__in=[])
        unassigned_here = Q(team__isnull=True, organisation_id=user.organisation_id)
        return tasks.filter(mine | unassigned_here | Q(assignee=user))
    return tasks


def worklist(user: Any, filters: Filters, *, now: datetime | None = None) -> QuerySet[Task]:
    now = now or timezone.now()
    tasks = scoped(user, filters.scope)
    tonight = end_of_today(now)
    if filters.section == "today":
        tasks = tasks.filter(due_at__lt=tonight, deadline__gte=now)
    elif filters.section == "overdue":
        tasks = tasks.filter(deadline__lt=now)
    elif filters.section == "upcoming":
        tasks = tasks.filter(due_at__gte=tonight, due_at__lt=tonight + timedelta(days=7))
    elif filters.section != "all":  # "all": every open task, also those due later
        tasks = tasks.filter(due_at__lt=tonight)
    tasks = narrowed(tasks, filters)
    return with_priority(tasks, now).select_related("patient", "plan__pathway", "assignee")


def narrowed(tasks: QuerySet[Task], filters: Filters) -> QuerySet[Task]:
    """``tasks`` with the tag, channel, pathway and organisation filters."""
    if filters.tag:
        tasks = tasks.filter(patient__tags__tag__name=filters.tag)
    if filters.channel:
        tasks = tasks.filter(channel=filters.channel)
    if filters.pathway:
        tasks = tasks.filter(plan__pathway__code=filters.pathway)
    if filters.organisation:  # the organisation and those below it
        path = Organisation.objects.filter(pk=filters.organisation).values("path")
        tasks = tasks.filter(organisation__path__startswith=Subquery(path[:1]))
    if filters.assignee:
        tasks = tasks.filter(assignee_id=filters.assignee)
    return tasks


# The section counts over the scoped tasks' WHERE (``scoped`` filters on followup_task's own
# columns only, no join). As ``aggregate`` with four filtered ``Count``s Django took ~1.3 ms
# a page to build and compile the statement, twice the time the database took to run it.
COUNTS_SQL = (
    "SELECT COUNT(CASE WHEN due_at < %s THEN 1 END),"
    " COUNT(CASE WHEN due_at < %s AND deadline >= %s THEN 1 END),"
    " COUNT(CASE WHEN deadline < %s THEN 1 END),"
    " COUNT(CASE WHEN due_at >= %s AND due_at < %s THEN 1 END),"
    " COUNT(*)"
    " FROM followup_task WHERE {where}"
)


def counts(
    user: Any, scope: str, *, now: datetime | None = None, filters: Filters | None = None
) -> dict[str, int]:
    """How many tasks each section holds (one query), with the list's filters when given."""
    now = now or timezone.now()
    if filters is not None and filters.narrowed:
        return _narrowed_counts(narrowed(scoped(user, scope), filters), now)
    tasks = scoped(user, scope)
    connection = connections[tasks.db]
    try:
        where, params = tasks.query.get_compiler(tasks.db).compile(tasks.query.where)
    except EmptyResultSet:  # someone who sees no organisation
        return dict.fromkeys(SECTIONS, 0)
    at = connection.ops.adapt_datetimefield_value
    tonight, now_ = at(end_of_today(now)), at(now)
    week = at(end_of_today(now) + timedelta(days=7))
    with connection.cursor() as cursor:
        cursor.execute(
            COUNTS_SQL.format(where=where),
            [tonight, tonight, now_, now_, tonight, week, *params],
        )
        return dict(zip(SECTIONS, cursor.fetchone(), strict=True))


def _narrowed_counts(tasks: QuerySet[Task], now: datetime) -> dict[str, int]:
    """The counts when a filter joins other tables (not the one-table statement above)."""
    tonight = end_of_today(now)
    found = tasks.aggregate(
        due=Count("pk", filter=Q(due_at__lt=tonight), distinct=True),
        today=Count("pk", filter=Q(due_at__lt=tonight, deadline__gte=now), distinct=True),
        overdue=Count("pk", filter=Q(deadline__lt=now), distinct=True),
        upcoming=Count(
            "pk",
            filter=Q(due_at__gte=tonight, due_at__lt=tonight + timedelta(days=7)),
            distinct=True,
        ),
        all=Count("pk", distinct=True),
    )
    return {key: found[key] or 0 for key in SECTIONS}

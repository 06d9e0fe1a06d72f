"""/api/v1/metrics: the dashboard's figures for a period and an organisation, team or
person (the same numbers as the dashboard page)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from careloop.analytics import metrics
from careloop.analytics.figure import Figure
from careloop.analytics.scope import Scope, parse_scope
from careloop.api import ERROR_RESPONSES

router = Router()


class ScopeParams(Schema):
    from_: str | None = Field(None, alias="from", description="first day, YYYY-MM-DD")
    to: str | None = Field(None, description="last day, YYYY-MM-DD (inclusive)")
    org: str | None = Field(None, description="organisation id or code (and all below it)")
    team: str | None = Field(None, description="team id")
    person: str | None = Field(None, description="staff id or username")


class FollowupMetrics(Schema):
    from_: date = Field(alias="from")
    to: date
    org: str | None
    team: int | None
    person: str | None
    planned: int
    done: int
    not_done: int
    completion_rate: float | None = Field(description="done ÷ planned, 0–1")
    on_time: int
    on_time_rate: float | None = Field(description="done in time ÷ done, 0–1")


class PartOut(Schema):
    key: str
    label: str
    count: int


class FigureOut(Schema):
    key: str
    label: str
    value: float | None
    unit: str
    flagged: bool
    parts: list[PartOut]
    extra: dict[str, Any]


class DashboardOut(Schema):
    from_: date = Field(alias="from")
    to: date
    org: str | None
    figures: list[FigureOut]


def _scope(request: HttpRequest, params: ScopeParams) -> Scope:
    if not request.user.has_perm("analytics.view_dashboard"):
        raise PermissionDenied
    given = {
        "from": params.from_ or "",
        "to": params.to or "",
        "org": params.org or "",
        "team": params.team or "",
        "person": params.person or "",
    }
    return parse_scope(request.user, given)  # ScopeError: a 422 naming the parameter


def _where(scope: Scope) -> dict[str, Any]:
    return {
        "from": scope.first,
        "to": scope.last,
        "org": scope.organisation.code if scope.organisation else None,
    }


def _parts(figure: Figure) -> dict[str, int]:
    return {p.key: p.count for p in figure.parts}


@router.get(
    "/followup",
    response={200: FollowupMetrics, **ERROR_RESPONSES},
    summary="Follow-ups planned, done and on time",
    by_alias=True,
)
def followup_metrics(request: HttpRequest, params: Query[ScopeParams]) -> dict[str, Any]:
    scope = _scope(request, params)
    completion, punctuality = metrics.completion(scope), metrics.punctuality(scope)
    done = _parts(completion)
    return {
        **_where(scope),
        "team": scope.team.pk if scope.team else None,
        "person": scope.person.username if scope.person else None,
        "planned": done["planned"],
        "done": done["done"],
        "not_done": done["not_done"],
        "completion_rate": completion.value,
        "on_time": _parts(punctuality)["on_time"],
        "on_time_rate": punctuality.value,
    }


@router.get(
    "/dashboard",
    response={200: DashboardOut, **ERROR_RESPONSES},
    summary="Every dashboard figure with its parts",
    by_alias=True,
)
def dashboard_metrics(request: HttpRequest, params: Query[ScopeParams]) -> dict[str, Any]:
    scope = _scope(request, params)
    return {**_where(scope), "figures": metrics.figures(scope)}

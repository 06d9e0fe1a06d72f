"""The dashboard (数据看板, F15): figures for a period and an organisation, team or person;
every count opens the list behind it; both export to Excel."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from careloop.accounts.models import Team, User
from careloop.analytics import charts
from careloop.analytics.export import figures_workbook, list_workbook
from careloop.analytics.listing import UnknownList, listing, only_visible
from careloop.analytics.metrics import figures, list_label
from careloop.analytics.scope import Scope, ScopeError, parse_scope, visible_organisations
from careloop.audit.services import record
from careloop.typing import AuthedRequest

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(body: bytes, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _choices(request: AuthedRequest, scope: Scope) -> dict[str, Any]:
    within = (
        {"organisation__path__startswith": scope.organisation.path} if scope.organisation else {}
    )
    return {
        "organisations": visible_organisations(request.user),
        "teams": Team.objects.filter(**within).select_related("organisation"),
        "people": User.objects.filter(is_active=True, groups__isnull=False, **within)
        .distinct()
        .order_by("display_name", "username"),
    }


def _scope_or_error(request: AuthedRequest) -> tuple[Scope | None, str]:
    try:
        return parse_scope(request.user, request.GET), ""
    except ScopeError as exc:
        return None, exc.message  # the page names no parameter (the API does)


@login_required
@permission_required("analytics.view_dashboard", raise_exception=True)
def dashboard(request: AuthedRequest) -> HttpResponse:
    scope, error = _scope_or_error(request)
    if scope is None:
        scope = parse_scope(request.user, {})
    # The period as typed stays in its fields beside the error (not the default period
    # the figures fell back to, which made "the start cannot be after the end" look wrong).
    typed = {
        key: request.GET.get(key, "") if error else day.isoformat()
        for key, day in (("from", scope.first), ("to", scope.last))
    }
    shown = figures(scope)
    if request.GET.get("format") == "xlsx":
        record(request.user, "export", "dashboard", "", summary=f"dashboard {scope.params()}")
        return _xlsx(figures_workbook(scope, shown), f"dashboard-{scope.first}-{scope.last}")
    query = urlencode(scope.params())
    today = timezone.localdate()
    ranges = [
        (_("Last 30 days"), {}),
        (_("This month"), {"from": today.replace(day=1).isoformat()}),
        (_("This year"), {"from": today.replace(month=1, day=1).isoformat()}),
        (_("Last year"), {"from": f"{today.year - 1}-01-01", "to": f"{today.year - 1}-12-31"}),
    ]
    return render(
        request,
        "analytics/dashboard.html",
        {
            "scope": scope,
            "error": error,
            "typed": typed,
            "figures": shown,
            "query": query,
            "ranges": [
                (label, urlencode({**scope.params(), "from": "", "to": "", **r}))
                for label, r in ranges
            ],
            "chart_data": {
                "weekly": charts.weekly(scope),
                "alerts": charts.open_alerts_by_team(scope),
            },
            **_choices(request, scope),
        },
    )


@login_required
@permission_required("analytics.view_dashboard", raise_exception=True)
def drill(request: AuthedRequest, key: str) -> HttpResponse:
    scope, error = _scope_or_error(request)
    if scope is None:
        return render(request, "analytics/drill.html", {"error": error}, status=400)
    try:
        rows = listing(scope, key)
    except UnknownList:
        raise Http404("no such list") from None
    label = list_label(key)
    if request.GET.get("format") == "xlsx":
        with override("en"):  # summaries are written in English, shown translated
            english = list_label(key)
        record(
            request.user,
            "export",
            "dashboard",
            key,
            summary=f"list “{english}” exported, {scope.first} to {scope.last}"
            + "".join(f", {k} {v}" for k, v in scope.params().items() if k not in ("from", "to")),
        )
        body = list_workbook(label, rows, lambda chunk: only_visible(chunk, request.user))
        return _xlsx(body, f"{key.replace(':', '-')}-{scope.first}-{scope.last}")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))  # type: ignore[arg-type,var-annotated]
    page.object_list = only_visible(list(page.object_list), request.user)
    return render(
        request,
        "analytics/drill.html",
        {
            "scope": scope,
            "key": key,
            "label": label,
            "page": page,
            "count": rows.count(),
            "query": urlencode(scope.params()),
        },
    )

"""The dashboard's kept counts (``rollup``) against counting the task lists themselves: after
a full build and after each kind of change (new tasks, a task closed, moved to another day,
team or person, cancelled, deleted, bulk updates), for an organisation, a team and a person,
over periods of whole months, part months and single days."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from careloop.accounts.models import Team
from careloop.analytics import charts, rollup, sources
from careloop.analytics.models import TaskChange, TaskDay
from careloop.analytics.scope import Scope
from careloop.followup.models import Task
from tests.analytics.conftest import at, task

pytestmark = pytest.mark.django_db

PERIODS = [
    (date(2026, 11, 1), date(2026, 11, 30)),  # one whole month
    (date(2026, 10, 15), date(2026, 12, 10)),  # part, whole, part
    (date(2026, 10, 1), date(2026, 12, 31)),  # three whole months
    (date(2026, 11, 7), date(2026, 11, 7)),  # one day
    (date(2026, 11, 20), date(2026, 12, 5)),  # two part months
]


def _expected(scope: Scope) -> rollup.Totals:
    planned, done = sources.planned(scope), sources.done(scope)
    return rollup.Totals(
        planned.count(),
        done.count(),
        sources.on_time(scope).count(),
        planned.values("patient_id").distinct().count(),
        done.values("patient_id").distinct().count(),
        sources.reminders(scope).values("patient_id").distinct().count(),
    )


def _scopes(hospital: Any, teams: list[Team], people: list[Any]) -> list[Scope]:
    out = []
    for first, last in PERIODS:
        out.append(Scope(first, last, hospital))
        out.append(Scope(first, last, None))
        out += [Scope(first, last, hospital, team=team) for team in teams]
        out += [Scope(first, last, hospital, person=person) for person in people]
        out.append(Scope(first, last, hospital, team=teams[0], person=people[0]))
    return out


def _check(scopes: list[Scope]) -> None:
    for scope in scopes:
        assert rollup.totals(scope) == _expected(scope), scope


@pytest.fixture
def world(
    hospital: Any, community: Any, alice: Any, carol: Any, patient_factory: Any
) -> dict[str, Any]:
    rng = random.Random(7)
    teams = [Team.objects.create(organisation=hospital, name=f"随访{n}组") for n in range(2)]
    patients = [patient_factory(organisation=hospital) for _ in range(6)]
    elsewhere = patient_factory(organisation=community)
    for _ in range(60):
        due = at(rng.randint(1, 28), rng.randint(0, 23), month=rng.choice([10, 11, 12]))
        status = rng.choice(["open", "done", "done", "failed", "cancelled"])
        closed = due + timedelta(days=rng.choice([0, 1, 3])) if status != "open" else None
        task(
            rng.choice(patients),
            due,
            status,
            closed=closed,
            team=rng.choice([*teams, None]),
            assignee=rng.choice([alice, carol, None]),
            purpose=rng.choice(["condition_tracking", "revisit_reminder"]),
        )
    task(elsewhere, at(7), "done", closed=at(7))
    return {"teams": teams, "people": [alice, carol], "hospital": hospital}


def test_counts_equal_the_lists_after_a_build_and_after_every_kind_of_change(
    world: dict[str, Any], alice: Any, carol: Any, patient_factory: Any
) -> None:
    scopes = _scopes(world["hospital"], world["teams"], world["people"])
    assert rollup.refresh(full=True)["full"] is True
    assert not TaskChange.objects.exists()
    _check(scopes)

    tasks = list(Task.objects.filter(organisation=world["hospital"]).order_by("pk"))
    newcomer = patient_factory(organisation=world["hospital"])
    task(newcomer, at(7, 9), "done", closed=at(7, 9), team=world["teams"][0], assignee=alice)
    opened = next(t for t in tasks if t.status == "open")
    opened.status, opened.closed_at = "done", opened.due_at  # closed on time
    opened.save()
    moved = tasks[1]
    moved.due_at, moved.team, moved.assignee = at(30, 23, 59), world["teams"][1], carol
    moved.save()  # to another day, team and person
    tasks[2].delete()
    Task.objects.filter(pk__in=[t.pk for t in tasks[3:8]]).update(status="cancelled")
    assert TaskChange.objects.exists()
    _check(scopes)  # the reads applied what was pending first
    assert not TaskChange.objects.exists()


def test_only_counted_fields_note_a_change(world: dict[str, Any]) -> None:
    rollup.refresh(full=True)
    Task.objects.update(attempts=2, title="改名")
    assert not TaskChange.objects.exists()
    Task.objects.filter(status="open").update(deadline=at(28, month=12))
    assert TaskChange.objects.exists()
    TaskChange.objects.all().delete()
    Task.objects.filter(status="cancelled").update(closed_at=at(1))
    assert not TaskChange.objects.exists()  # cancelled tasks are not counted


def test_a_refresh_adds_up_the_changes_into_their_day_and_month(world: dict[str, Any]) -> None:
    rollup.refresh(full=True)

    def stored() -> dict[tuple[str, date, int], tuple[int, int, bytes]]:
        rows = TaskDay.objects.values_list(
            "span", "day", "organisation_id", "planned", "done", "covered_patients"
        )
        return {(s, d, o): (p, n, bytes(c)) for s, d, o, p, n, c in rows}

    before = stored()
    changed = Task.objects.filter(organisation=world["hospital"], status="done")[0]
    day = timezone.localtime(changed.due_at).date()
    changed.status = "failed"
    changed.save()
    result = rollup.refresh()
    assert (result["full"], result["changes"], result["rows"]) == (False, 2, 2)  # was, is
    after = stored()
    differing = {key for key in after if after[key] != before.get(key)}
    org = world["hospital"].pk
    assert differing == {("d", day, org), ("m", day.replace(day=1), org)}
    assert after[("d", day, org)][1] == before[("d", day, org)][1] - 1


def test_cli_refresh_prints_what_it_did(world: dict[str, Any]) -> None:
    out = StringIO()
    call_command("dashboard", "refresh", "--full", stdout=out)
    result = json.loads(out.getvalue())
    assert result["full"] is True
    assert result["rows"] == TaskDay.objects.count() > 0
    out = StringIO()
    call_command("dashboard", "refresh", stdout=out)
    assert json.loads(out.getvalue())["changes"] == 0


def test_the_weekly_chart_adds_up_to_the_lists(world: dict[str, Any]) -> None:
    hospital, team = world["hospital"], world["teams"][0]
    for extra in ({}, {"team": team}):
        scope = Scope(date(2026, 11, 1), date(2026, 11, 30), hospital, **extra)
        chart = charts.weekly(scope)
        assert sum(chart["planned"]) == sources.planned(scope).count() > 0
        assert sum(chart["done"]) == sources.done(scope).count()
        week = Scope(date(2026, 11, 8), date(2026, 11, 14), hospital, **extra)
        assert chart["labels"][1] == "2026-11-08"
        assert chart["planned"][1] == sources.planned(week).count()
        assert chart["done"][1] == sources.done(week).count()


def test_a_task_handed_to_someone_else_moves_the_cached_person_figures(
    world: dict[str, Any], alice: Any, carol: Any
) -> None:
    rollup.refresh(full=True)
    hospital = world["hospital"]
    mine = Scope(date(2026, 10, 1), date(2026, 12, 31), hospital, person=alice)
    theirs = Scope(date(2026, 10, 1), date(2026, 12, 31), hospital, person=carol)
    before = rollup.totals(mine)  # now cached
    assert before.planned > 0
    Task.objects.filter(assignee=alice).update(assignee=carol)  # bulk hand-over
    assert rollup.totals(mine) == _expected(mine) == rollup.Totals(0, 0, 0, 0, 0, 0)
    assert rollup.totals(theirs) == _expected(theirs)


def test_changes_left_pending_are_counted_from_the_tasks(
    world: dict[str, Any], monkeypatch: Any
) -> None:
    rollup.refresh(full=True)
    whole = Scope(date(2026, 10, 1), date(2026, 12, 31), world["hospital"])
    rollup.totals(whole)
    Task.objects.filter(status="open").update(status="done", closed_at=at(1, month=10))
    monkeypatch.setattr(rollup, "READ_LIMIT", 1)  # a read applies one change, leaves the rest
    assert TaskChange.objects.count() > 1
    assert rollup.totals(whole) == _expected(whole)
    assert TaskChange.objects.exists()  # still pending: the job takes them
    from careloop.analytics.tasks import refresh_dashboard

    assert refresh_dashboard.call()["changes"] > 0
    assert not TaskChange.objects.exists()
    assert rollup.totals(whole) == _expected(whole)


def test_triggers_a_rebuilt_task_table_lost_are_made_again(world: dict[str, Any]) -> None:
    from importlib import import_module

    from django.db import connection

    from careloop.analytics.apps import _keep_triggers

    made = import_module("careloop.analytics.migrations.0003_task_change_triggers")
    TaskChange.objects.all().delete()
    if connection.vendor == "sqlite":  # what SQLite's table rebuild does to them
        with connection.cursor() as cursor:
            for statement in made.SQLITE_DROP:
                cursor.execute(statement)
        Task.objects.update(status="failed")
        assert not TaskChange.objects.exists()
    _keep_triggers()
    _keep_triggers()  # and again: nothing happens when they are there
    Task.objects.update(status="done")
    assert TaskChange.objects.exists()

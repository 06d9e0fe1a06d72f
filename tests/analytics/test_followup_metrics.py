"""Completion and on-time rates against hand-counted tasks: cancelled (re-planned) tasks
are not planned work, the period is whole local days, work stays with the team that did it
when the patient moves on; the list behind each number has that many rows."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.accounts.models import Team
from careloop.analytics.listing import listing
from careloop.analytics.metrics import completion, coverage, punctuality
from tests.analytics.conftest import at, november, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(hospital: Any, patient_factory: Any) -> dict[str, Any]:
    ward = Team.objects.create(organisation=hospital, name="心内科随访组")
    other = Team.objects.create(organisation=hospital, name="社区组")
    first = patient_factory(organisation=hospital, care_team=ward)
    moved = patient_factory(organisation=hospital, care_team=other)  # was on the ward team
    quiet = patient_factory(organisation=hospital, care_team=ward)
    task(first, at(5), "done", closed=at(5, 15), team=ward)  # on time
    task(first, at(10), "done", closed=at(15), team=ward)  # late: deadline the 12th
    task(first, at(20), team=ward)  # still open
    task(first, at(25), "failed", closed=at(27), team=ward)  # not reached
    task(first, at(8), "cancelled", closed=at(7), team=ward)  # re-planned ...
    task(first, at(9), "done", closed=at(9, 11), team=ward)  # ... to this one
    task(first, at(30, 10, month=10), "done", closed=at(30, 11, month=10), team=ward)  # October
    task(first, at(1, 0, month=12), team=ward)  # 1 December 00:00: after the period
    task(quiet, at(30, 23, 59), team=ward)  # the last minute of the period
    task(moved, at(3), "done", closed=at(3, 12), team=ward)  # done before the move
    return {"ward": ward, "other": other}


def test_completion_and_on_time_rates(work: dict[str, Any], bob: Any) -> None:
    scope = november(bob)
    figure = completion(scope)
    parts = {p.key: p.count for p in figure.parts}
    assert parts == {"planned": 7, "done": 4, "not_done": 3}
    assert figure.value == round(4 / 7, 4)
    on_time = punctuality(scope)
    assert {p.key: p.count for p in on_time.parts} == {"done": 4, "on_time": 3, "late": 1}
    assert on_time.value == 0.75
    for part in figure.parts + on_time.parts:
        assert listing(scope, part.key).count() == part.count


def test_work_stays_with_the_team_that_did_it(work: dict[str, Any], bob: Any) -> None:
    ward = november(bob, team=str(work["ward"].pk))
    assert {p.key: p.count for p in completion(ward).parts}["planned"] == 7
    other = november(bob, team=str(work["other"].pk))
    assert completion(other).value is None  # nothing planned: no rate, not 0%
    assert {p.key: p.count for p in coverage(november(bob)).parts} == {
        "planned_patients": 3,
        "covered_patients": 2,
    }

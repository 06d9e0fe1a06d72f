"""The national work indicators over a year: 规范管理率 counts only face-to-face visits (4 or
more), 血压控制率 reads the last visit of the year with the elderly target from 65, and
血糖控制率 holds fasting glucose of exactly 7.0 as not controlled."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from django.utils import timezone

from careloop.analytics.listing import listing
from careloop.analytics.national import figures
from careloop.analytics.scope import parse_scope
from careloop.followup.models import FollowUpRecord, Pathway, Plan
from careloop.followup.pathways import load_pack
from tests.analytics.conftest import task

pytestmark = pytest.mark.django_db


def on(month: int, day: int = 15) -> datetime:
    return timezone.make_aware(datetime(2026, month, day, 9))


def enrolled(patient: Any, code: str, started: datetime, ended: datetime | None = None) -> None:
    pathway = Pathway.objects.get(code=code)
    Plan.objects.create(
        patient=patient,
        organisation=patient.organisation,
        pathway=pathway,
        version=pathway.versions.first(),
        trigger="programme",
        anchor=started,
        started_at=started,
        ended_at=ended,
        status="active" if ended is None else "stopped",
    )


def visit(
    patient: Any,
    form: str,
    month: int,
    method: str = "门诊",
    outcome: str = "reached",
    **answers: Any,
) -> None:
    FollowUpRecord.objects.create(
        task=task(patient, on(month), "done", closed=on(month)),
        patient=patient,
        channel="clinic" if method != "电话" else "phone",
        outcome=outcome,
        form=form,
        answers={"method": method, **answers},
        at=on(month),
    )


def test_national_indicators(hospital: Any, patient_factory: Any, bob: Any) -> None:
    load_pack()
    to_spec = patient_factory(organisation=hospital, birth_date=date(1966, 3, 1))
    enrolled(to_spec, "htn-programme", on(1, 2))
    for month, method in ((2, "门诊"), (5, "家庭"), (8, "电话"), (9, "门诊"), (11, "门诊")):
        visit(to_spec, "htn", month, method, sbp=150 if month < 11 else 135, dbp=85)
    elderly = patient_factory(organisation=hospital, birth_date=date(1958, 1, 1))  # 68
    enrolled(elderly, "htn-programme", on(3))
    visit(elderly, "htn", 4, sbp=160, dbp=95)
    visit(elderly, "htn", 10, sbp=145, dbp=85)  # at the ≥65 target of 150/90
    never_seen = patient_factory(organisation=hospital)
    enrolled(never_seen, "htn-programme", on(6))
    left_before = patient_factory(organisation=hospital)
    enrolled(
        left_before, "htn-programme", on(1, 1).replace(year=2025), ended=on(12).replace(year=2025)
    )
    diabetic = patient_factory(organisation=hospital)
    enrolled(diabetic, "dm-programme", on(2))
    visit(diabetic, "dm", 3, fpg=6.1)
    visit(diabetic, "dm", 12, fpg=7.0)

    scope = parse_scope(bob, {"from": "2026-01-01", "to": "2026-12-31"})
    shown = {f.key: f for f in figures(scope)}
    spec = shown["htn_managed_to_spec_rate"]
    assert {p.key: p.count for p in spec.parts} == {"htn_managed": 3, "htn_to_spec": 1}
    assert spec.value == round(1 / 3, 4)
    control = shown["htn_control_rate"]
    assert {p.key: p.count for p in control.parts} == {"htn_managed": 3, "htn_controlled": 2}
    assert {row.patient.pk for row in listing(scope, "htn_controlled")[0:10]} == {
        to_spec.pk,
        elderly.pk,
    }
    assert shown["dm_control_rate"].value == 0.0  # 7.0 is not below 7.0
    assert shown["dm_managed_to_spec_rate"].value == 0.0
    for figure in shown.values():
        for part in figure.parts:
            assert listing(scope, part.key).count() == part.count


def test_a_call_not_answered_after_the_last_visit_changes_neither_rate(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    """血压控制率 reads the last follow-up BP: a later call nobody answered measured nothing,
    and is no visit towards 规范管理 either."""
    load_pack()
    patient = patient_factory(organisation=hospital, birth_date=date(1970, 3, 1))
    enrolled(patient, "htn-programme", on(1, 2))
    for month in (2, 5, 8):
        visit(patient, "htn", month, sbp=130, dbp=80)
    visit(patient, "htn", 10, outcome="no_answer")
    visit(patient, "htn", 11, outcome="busy")
    scope = parse_scope(bob, {"from": "2026-01-01", "to": "2026-12-31"})
    shown = {f.key: f for f in figures(scope)}
    assert shown["htn_control_rate"].value == 1.0
    assert {p.key: p.count for p in shown["htn_managed_to_spec_rate"].parts}["htn_to_spec"] == 0

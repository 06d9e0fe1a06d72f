"""Value tiers (F5) from the last 12 months' visits and spend: thresholds, who lands where,
a change re-planning the tier-matrix follow-ups, charges read from HL7 PV1-47, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from careloop.clinical.models import Condition, Encounter
from careloop.followup.models import Task
from careloop.followup.triggers import on_discharge
from careloop.interop.hl7.message import decode, parse
from careloop.interop.hl7.read import read
from careloop.patients.models import Patient
from careloop.patients.value_tiers import TierSettingError, thresholds, update_value_tiers
from tests.test_followup_plans import DISCHARGED, Clock, clock, pack  # noqa: F401
from tests.unit.test_hl7 import FIXTURES

pytestmark = pytest.mark.django_db


def _visit(patient: Any, days_ago: int, **extra: Any) -> Encounter:
    values = {"kind": Encounter.Kind.OUTPATIENT, "status": Encounter.Status.FINISHED, **extra}
    return Encounter.objects.create(
        patient=patient,
        organisation=patient.organisation,
        started_at=timezone.now() - timedelta(days=days_ago),
        **values,
    )


def test_thresholds_are_read_and_a_wrong_one_is_named(settings: Any) -> None:
    levels = thresholds("high:10000:12, medium:2000.5:4")
    assert [(t.tier, t.spend, t.visits) for t in levels or []] == [
        ("high", Decimal(10000), 12),
        ("medium", Decimal("2000.5"), 4),
    ]
    assert thresholds("off") is None
    assert [t.tier for t in thresholds("medium:2000:4,high:10000:12") or []] == ["high", "medium"]
    for wrong in ("high:-1:3", "high:nan:3", "high:1:2,high:3:4"):
        with pytest.raises(TierSettingError):
            thresholds(wrong)
    with pytest.raises(TierSettingError, match="'top:1:2'"):
        thresholds("top:1:2")
    settings.CARELOOP_VALUE_TIERS = "high:lots:12"
    with pytest.raises(CommandError, match="'high:lots:12' 的金额或次数不是数字"):
        call_command("value_tiers", stdout=StringIO())


def test_every_patient_gets_the_tier_of_their_last_12_months(
    hospital: Any, patient_factory: Any
) -> None:
    frequent, spender, cancelled, old, nobody = (
        patient_factory(organisation=hospital) for _ in range(5)
    )
    Patient.objects.filter(pk=cancelled.pk).update(value_tier="high")
    for n in range(12):
        _visit(frequent, 1 + 25 * n)  # 12 visits in the year, no charges known
    _visit(spender, 40, kind=Encounter.Kind.INPATIENT, charges=Decimal("2500.00"))
    _visit(cancelled, 10, status=Encounter.Status.CANCELLED, charges=Decimal("50000"))
    _visit(old, 400, charges=Decimal("50000"))  # more than a year ago
    out = StringIO()
    call_command("value_tiers", stdout=out)
    assert json.loads(out.getvalue()) == {
        "patients": 2,  # only those with a visit in the year
        "changed": 2,
        "high": 1,
        "medium": 1,
        "low": 0,
    }
    tiers = dict(Patient.objects.values_list("pk", "value_tier"))
    assert [tiers[p.pk] for p in (frequent, spender, cancelled, old, nobody)] == [
        "high",
        "medium",
        "high",  # its only visit was cancelled: no data, kept
        "",
        "",
    ]
    assert update_value_tiers()["changed"] == 0  # nothing new: nothing written


def test_a_new_value_tier_replans_the_matrix_follow_ups(
    hospital: Any,
    patient_factory: Any,
    clock: Clock,  # noqa: F811
    pack: None,  # noqa: F811
) -> None:
    patient = patient_factory(organisation=hospital, risk_tier="high", value_tier="high")
    stay = _visit(patient, 0, kind=Encounter.Kind.INPATIENT)
    Encounter.objects.filter(pk=stay.pk).update(
        started_at=DISCHARGED - timedelta(days=5), ended_at=DISCHARGED
    )
    Condition.objects.create(patient=patient, icd10_code="K35.8", name="急性阑尾炎", encounter=stay)
    [plan] = on_discharge([patient.pk])
    assert plan.tasks.filter(node="tiered", status=Task.Status.OPEN).count() == 4  # weekly
    clock.set(DISCHARGED + timedelta(days=1))
    assert update_value_tiers()["changed"] == 1  # one stay, no charges: low value
    patient.refresh_from_db()
    assert patient.value_tier == "low"
    cancelled = plan.tasks.filter(node="tiered", status=Task.Status.CANCELLED)
    assert cancelled.count() == 4 and "分层" in cancelled.first().cancel_reason  # type: ignore[union-attr]


def test_many_changes_are_written_a_part_at_a_time_each_whole(
    hospital: Any, patient_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part's tiers and re-planning commit together, a part at a time (the listener
    writes between them on SQLite); every patient of every part is reached."""
    from django.db import connection

    import careloop.patients.value_tiers as value_tiers

    monkeypatch.setattr(value_tiers, "PART", 2)
    moving = [patient_factory(organisation=hospital) for _ in range(5)]
    for patient in moving:
        _visit(patient, 3)
    replanned: list[tuple[list[int], bool]] = []
    monkeypatch.setattr(
        "careloop.followup.planning.replan_tiers",
        lambda ids, now: replanned.append((list(ids), connection.in_atomic_block)) or 0,
    )
    assert update_value_tiers()["changed"] == 5
    assert {p.value_tier for p in Patient.objects.filter(pk__in=[p.pk for p in moving])} == {"low"}
    assert [len(ids) for ids, _ in replanned] == [2, 2, 1]
    assert sorted(pk for ids, _ in replanned for pk in ids) == sorted(p.pk for p in moving)
    assert all(inside for _, inside in replanned)  # with its part's tiers, in one transaction


def test_charges_come_from_pv1_47() -> None:
    text, _codec = decode((FIXTURES / "adt_a03_discharge.hl7").read_bytes(), "utf-8")
    lines = text.split("\r")
    pv1 = next(i for i, line in enumerate(lines) if line.startswith("PV1"))
    original = lines[pv1]
    lines[pv1] = original + "||18650.5"
    assert read(parse("\r".join(lines))).visit.charges == Decimal("18650.50")  # type: ignore[union-attr]
    lines[pv1] = original + "||￥1,234.5"
    assert read(parse("\r".join(lines))).visit.charges == Decimal("1234.50")  # type: ignore[union-attr]
    for wrong in ("十八元", "-20", "9999999999.995"):  # not an amount: left out, message read
        lines[pv1] = original + "||" + wrong
        assert read(parse("\r".join(lines))).visit.charges is None  # type: ignore[union-attr]

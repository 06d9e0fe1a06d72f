"""Intervention programmes and stage summaries: a patient on the weight programme with
their own target; progress from readings (baseline before the start, latest in the period,
met or not) and check-in days from the patient page; the patient page shows it. A stage
summary for a quarter counts indicator changes, adherence, follow-ups done against planned,
goals met and alerts; staff edit and finalise it as versions; the quarterly job drafts each
one once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.care.models import Programme, ProgrammeEnrolment, StageSummary
from careloop.care.programmes import ProgrammeError, do_enrol, load_programmes, progress
from careloop.care.summaries import make_due_summaries, quarter_before
from careloop.clinical.models import Observation
from careloop.followup.models import Alert, FollowUpRecord, Task
from careloop.portal.links import make_token

pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 8) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def reading(patient: Any, code: str, value: float, day: date, source: str = "patient") -> None:
    Observation.objects.create(
        patient=patient,
        code=code,
        name=code,
        value=value,
        unit="",
        effective_at=at(day),
        source=source,
    )


@pytest.fixture
def on_programme(hospital: Any, patient_factory: Any, bob: Any) -> ProgrammeEnrolment:
    load_programmes()
    patient = patient_factory(organisation=hospital, name="夏侯静")
    start = date(2026, 10, 1)
    reading(patient, "29463-7", 78.0, date(2026, 9, 20), source="manual")  # before: baseline
    for n, weight in enumerate([77.5, 76.0, 74.8]):
        reading(patient, "29463-7", weight, start + timedelta(days=7 * n))
    reading(patient, "55423-8", 9000, start + timedelta(days=7))  # same day as a weight
    weight = Programme.objects.get(code="weight-loss")
    return do_enrol(bob, patient, weight, start, {"weight": 75})


def test_programme_progress(on_programme: ProgrammeEnrolment, bob: Any) -> None:
    done = progress(on_programme, today=date(2026, 10, 28))
    weight, steps = done.goals
    assert weight.goal_text == "体重 ≤ 75 kg" and weight.baseline == 78.0
    assert weight.latest == 74.8 and weight.met
    assert steps.latest == 9000 and steps.met  # at least 8000 (the template's)
    assert done.checkins == 3 and done.expected_checkins == 4  # 28 days, weekly
    with pytest.raises(ProgrammeError, match="已在"):
        do_enrol(bob, on_programme.patient, on_programme.programme, date(2026, 10, 2), {})

    client = Client()
    client.force_login(bob)
    page = client.get(f"/care/patients/{on_programme.patient_id}/programmes/").content.decode()
    assert "体重 ≤ 75 kg" in page and 'data-testid="goal-met"' in page and "<svg" in page
    token = make_token(on_programme.patient_id, "home")
    session = Client()
    session.post(f"/p/{token}/check/", {"answer": on_programme.patient.birth_date.isoformat()})
    portal = session.get(f"/p/{token}/").content.decode()
    assert "体重管理（减重）" in portal and "怎样吃得少又不饿" in portal


def test_a_stage_summary(on_programme: ProgrammeEnrolment, bob: Any, alice: Any) -> None:
    patient = on_programme.patient
    first, last = date(2026, 10, 1), date(2026, 12, 31)
    for due, status in (
        (date(2026, 10, 5), "done"),
        (date(2026, 11, 5), "open"),
        (date(2026, 11, 6), "cancelled"),
    ):
        task = Task.objects.create(
            patient=patient,
            organisation=patient.organisation,
            title="随访",
            purpose="condition_tracking",
            channel="phone",
            due_at=at(due),
            deadline=at(due) + timedelta(days=2),
            status=status,
        )
    FollowUpRecord.objects.create(
        task=task,
        patient=patient,
        channel="phone",
        outcome="reached",
        at=at(date(2026, 11, 5)),
        answers={"medication_adherence": "规律"},
    )
    Alert.objects.create(
        patient=patient,
        organisation=patient.organisation,
        kind="manual",
        severity="high",
        title="体重下降过快",
        reason="一周下降 2 kg",
        created_at=at(date(2026, 10, 20)),
        status="resolved",
        resolution="handled",
    )
    client = Client()
    client.force_login(bob)
    made = client.post(
        f"/care/patients/{patient.pk}/summaries/",
        {"from": first.isoformat(), "to": last.isoformat()},
    )
    row = StageSummary.objects.get(patient=patient)
    assert made["Location"] == f"/care/summaries/{row.pk}/"
    content = row.content
    weight = next(i for i in content["indicators"] if i["code"] == "29463-7")
    assert weight["first"] == 77.5 and weight["last"] == 74.8 and weight["change"] == -2.7
    assert content["followups"] == {"planned": 2, "done": 1, "rate": 0.5}
    assert content["adherence"]["checkin_days"] == 3
    assert content["adherence"]["medication"] == {"规律": 1}
    assert content["goals_met"] == 2 and content["alerts"][0]["title"] == "体重下降过快"
    page = client.get(f"/care/summaries/{row.pk}/").content.decode()
    assert "体重下降过快" in page and "<svg" in page

    client.post(
        f"/care/summaries/{row.pk}/",
        {
            "summary": "体重下降 2.7 kg，达到目标。",
            "next_steps": "继续每周记录体重。",
            "status": "final",
        },
    )
    final = StageSummary.objects.filter(patient=patient).order_by("-version").first()
    assert final.version == 2 and final.status == "final" and final.content == content
    assert final.summary == "体重下降 2.7 kg，达到目标。"
    nurse = Client()
    nurse.force_login(alice)
    assert nurse.post(f"/care/summaries/{row.pk}/", {"summary": "x"}).status_code == 403


def test_the_quarterly_job(on_programme: ProgrammeEnrolment) -> None:
    assert quarter_before(date(2027, 1, 15)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert quarter_before(date(2026, 5, 2)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert make_due_summaries(date(2027, 1, 15)) == 1
    assert make_due_summaries(date(2027, 1, 16)) == 0  # once per quarter
    row = StageSummary.objects.get(patient=on_programme.patient)
    assert row.status == "draft" and row.period_start == date(2026, 10, 1)
    assert "继续努力" not in row.next_steps  # both goals met


def test_the_quarterly_job_run_twice_at_once_drafts_each_summary_once(
    on_programme: ProgrammeEnrolment, monkeypatch: Any
) -> None:
    # Two schedulers (two machines), or a restart, run the job side by side: the other run
    # drafts a patient's summary after this one listed the patient, before it got to them.
    from careloop.care import summaries

    listed = summaries._undrafted

    def other_run_meanwhile(first: date, last: date) -> Any:
        for patient in listed(first, last):
            summaries.do_save_summary(None, patient, first, last)  # the other run's draft
            yield patient

    monkeypatch.setattr(summaries, "_undrafted", other_run_meanwhile)
    assert make_due_summaries(date(2027, 1, 15)) == 0
    [row] = StageSummary.objects.filter(patient=on_programme.patient)
    assert row.version == 1 and row.status == "draft"


def test_a_stage_summary_counts_an_indicators_change_in_one_unit(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    """Creatinine sent as 150 µmol/L, then as 2.0 mg/dL (176.8 µmol/L): the summary's row
    reads umol/L, so its first, last and change are in umol/L (not 150 → 2.0, −148), and
    whole numbers show without ".0"."""
    patient = patient_factory(organisation=hospital, name="上官肾")
    for day, value, unit, normalised in (
        (date(2026, 10, 5), 150.0, "umol/L", 150.0),
        (date(2026, 12, 5), 2.0, "mg/dL", 176.8),
    ):
        Observation.objects.create(
            patient=patient,
            code="2160-0",
            name="肌酐",
            value=value,
            unit=unit,
            value_normalised=normalised,
            unit_normalised="umol/L",
            interpretation="N",
            effective_at=at(day),
        )
    client = Client()
    client.force_login(bob)
    client.post(
        f"/care/patients/{patient.pk}/summaries/", {"from": "2026-10-01", "to": "2026-12-31"}
    )
    row = StageSummary.objects.get(patient=patient)
    [creatinine] = row.content["indicators"]
    assert creatinine["unit"] == "umol/L"
    assert (creatinine["first"], creatinine["last"], creatinine["change"]) == (150, 176.8, 26.8)
    assert [value for _day, value in creatinine["points"]] == [150, 176.8]
    page = client.get(f"/care/summaries/{row.pk}/").content.decode()
    table = page.split('data-testid="indicators"')[1].split("</table>")[0]
    assert "<td>150</td>" in table and "<td>176.8</td>" in table and "+26.8" in table


def test_the_patient_page_reads_a_goals_latest_value_as_the_latest_reading(
    on_programme: ProgrammeEnrolment,
) -> None:
    # Chinese read "（最迟 74.8）" ("at the latest", the word of a deadline); English had
    # Chinese brackets around it.
    token = make_token(on_programme.patient_id, "home")
    session = Client()
    session.post(f"/p/{token}/check/", {"answer": on_programme.patient.birth_date.isoformat()})
    chinese = session.get(f"/p/{token}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "体重 ≤ 75 kg（最新 74.8）" in chinese and "最迟" not in chinese
    english = session.get(f"/p/{token}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Weight ≤ 75 kg (latest reading: 74.8)" in english and "kg（" not in english

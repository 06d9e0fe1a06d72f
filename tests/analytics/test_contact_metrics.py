"""Alert response time (median and P90 over answered alerts), connect rate per channel with
automated voice under 60% flagged, report views within 72 hours, satisfaction as NPS,
revisit conversion, time to first intervention and cost per follow-up — each against
hand-counted rows, and each part's list has as many rows as its count."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client

from careloop.analytics import metrics
from careloop.analytics.listing import listing
from careloop.clinical.models import DiagnosticReport, Encounter
from careloop.followup.models import (
    Alert,
    AlertEvent,
    FollowUpRecord,
    Pathway,
    Plan,
    RevisitRequest,
)
from careloop.followup.pathways import load_pack as load_pathways
from careloop.outreach.models import Message
from careloop.portal.models import PortalEvent
from careloop.questionnaires.services import current, load_pack, submit
from tests.analytics.conftest import NOVEMBER, at, november, task

pytestmark = pytest.mark.django_db


def parts(figure: Any) -> dict[str, int]:
    return {p.key: p.count for p in figure.parts}


def lists_agree(scope: Any, figure: Any) -> None:
    for part in figure.parts:
        assert listing(scope, part.key).count() == part.count, part.key


def alert(patient: Any, raised: Any, answered_after: int | None = None) -> Alert:
    row = Alert.objects.create(
        patient=patient,
        organisation=patient.organisation,
        kind="manual",
        severity="high",
        title="血压偏高",
        reason="收缩压 182 mmHg",
        created_at=raised,
    )
    if answered_after is not None:
        AlertEvent.objects.create(
            alert=row,
            action="acknowledge",
            from_status="open",
            to_status="acknowledged",
            at=raised + timedelta(minutes=answered_after),
        )
        AlertEvent.objects.create(  # a later move does not change the response time
            alert=row,
            action="resolve",
            from_status="acknowledged",
            to_status="resolved",
            at=raised + timedelta(minutes=answered_after + 60),
        )
    return row


def test_alert_response_time(hospital: Any, patient_factory: Any, bob: Any) -> None:
    patient = patient_factory(organisation=hospital)
    alert(patient, at(2), 10)
    alert(patient, at(3), 30)
    waiting = alert(patient, at(4))  # not answered yet: given to a doctor, escalated, noted
    for minutes, action in [(0, "assign"), (30, "escalate"), (45, "note")]:
        AlertEvent.objects.create(
            alert=waiting,
            action=action,
            from_status="open",
            to_status="open",
            at=at(4) + timedelta(minutes=minutes),
        )
    alert(patient, at(28, month=10), 1)  # raised in October
    scope = november(bob)
    figure = metrics.alert_response(scope)
    assert parts(figure) == {"alerts": 3, "answered": 2, "unanswered": 1}
    assert figure.value == 20.0 and figure.extra["p90"] == 28.0
    lists_agree(scope, figure)


def test_the_dashboard_says_the_p90_in_the_pages_language(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:

    patient = patient_factory(organisation=hospital)
    alert(patient, at(2), 10)
    alert(patient, at(3), 30)
    client = Client()
    client.force_login(bob)
    chinese = client.get("/dashboard/", NOVEMBER).content.decode()
    assert 'data-testid="p90">90%分位数 28.0 分钟<' in chinese
    assert " min<" not in chinese
    english = client.get("/dashboard/", NOVEMBER, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="p90">P90 28.0 min<' in english


def message(patient: Any, n: int, channel: str, status: str) -> Message:
    return Message.objects.create(
        organisation=patient.organisation,
        patient=patient,
        key=f"m{n}",
        channel=channel,
        body="您好",
        status=status,
        sent_at=at(4),
    )


def test_connect_rates_and_cost(
    hospital: Any, patient_factory: Any, bob: Any, settings: Any
) -> None:
    settings.CARELOOP_CHANNEL_COSTS = {"phone": 2.0, "voice": 0.5, "sms": 0.1}
    patient = patient_factory(organisation=hospital)
    call = task(patient, at(4), "done", closed=at(4, 11))
    for outcome in ("reached", "no_answer"):
        FollowUpRecord.objects.create(
            task=call, patient=patient, channel="phone", outcome=outcome, at=at(4)
        )
    for n, status in enumerate(["delivered", "failed", "sent"]):
        message(patient, n, "voice", status)
    message(patient, 9, "sms", "delivered")
    message(patient, 10, "sms", "queued")  # not handed to a provider: not an attempt
    scope = november(bob)
    rates = {f.key: f for f in metrics.connect_rates(scope)}
    assert set(rates) == {"connect_rate:phone", "connect_rate:voice", "connect_rate:sms"}
    assert rates["connect_rate:phone"].value == 0.5 and not rates["connect_rate:phone"].flagged
    voice = rates["connect_rate:voice"]
    assert voice.value == round(1 / 3, 4) and voice.flagged
    assert parts(voice) == {"attempts:voice": 3, "connected:voice": 1}
    assert rates["connect_rate:sms"].value == 1.0
    for figure in rates.values():
        lists_agree(scope, figure)
    cost = metrics.cost(scope)
    assert cost.extra["total"] == 2 * 2.0 + 3 * 0.5 + 0.1  # 5.6 over one done task
    assert cost.value == 5.6
    by_channel = {f.key: f for f in metrics.costs_by_channel(scope)}
    assert set(by_channel) == {
        "cost_per_followup:phone",
        "cost_per_followup:voice",
        "cost_per_followup:sms",
    }
    phone = by_channel["cost_per_followup:phone"]
    assert (phone.value, phone.extra["total"]) == (4.0, 4.0)  # two calls for the done task
    assert parts(phone) == {"done:phone": 1, "attempts:phone": 2}
    # Tries that closed nothing on their own channel: a cost, no follow-up to divide by.
    voice = by_channel["cost_per_followup:voice"]
    assert (voice.value, voice.extra["total"]) == (None, 1.5)
    for figure in by_channel.values():
        lists_agree(scope, figure)
    page = Client()
    page.force_login(bob)
    shown = page.get("/dashboard/", NOVEMBER).content.decode()
    assert "单次随访成本：电话" in shown


def test_report_views_within_72_hours(hospital: Any, patient_factory: Any, bob: Any) -> None:
    seen, late, never = (patient_factory(organisation=hospital) for _ in range(3))
    for patient in (seen, late, never):
        DiagnosticReport.objects.create(
            patient=patient, name="体检报告", effective_at=at(1), issued_at=at(5)
        )
    PortalEvent.objects.create(patient=seen, kind="view", page="report", link="x", at=at(7))
    PortalEvent.objects.create(patient=late, kind="view", page="report", link="y", at=at(8, 11))
    PortalEvent.objects.create(patient=never, kind="view", page="home", link="z", at=at(6))
    scope = november(bob)
    figure = metrics.report_views(scope)
    assert parts(figure) == {"reports": 3, "viewed": 1}
    assert figure.value == round(1 / 3, 4)
    lists_agree(scope, figure)


def test_nps_revisits_and_first_intervention(hospital: Any, patient_factory: Any, bob: Any) -> None:
    load_pack()
    load_pathways()
    version = current("satisfaction")
    assert version is not None
    patients = [patient_factory(organisation=hospital) for _ in range(3)]
    recommend = next(i["key"] for i in version.definition["items"] if i["type"] == "scale")
    for patient, score in zip(patients, (10, 8, 3), strict=True):
        answers = {
            i["key"]: i["options"][0]["value"]
            for i in version.definition["items"]
            if i["type"] == "choice"
        }
        done = submit(version, patient, {**answers, recommend: score}, source="staff", actor=bob)
        done.response.submitted_at = at(6)
        done.response.save()
    scope = november(bob)
    nps = metrics.nps(scope)
    assert parts(nps) == {"nps_responses": 3, "promoters": 1, "detractors": 1}
    assert nps.value == 0.0
    lists_agree(scope, nps)

    reminded, booked, came = patients
    for patient in patients:
        task(patient, at(10), "done", closed=at(10, 11), purpose="revisit_reminder")
    for patient, status in ((booked, "booked"), (came, "attended")):
        RevisitRequest.objects.create(
            patient=patient,
            organisation=hospital,
            wanted_on=date(2026, 11, 20),
            status=status,
            requested_at=at(11),
        )
    revisits = metrics.revisits(scope)
    assert parts(revisits) == {"reminded": 3, "booked": 2, "visited": 1}
    assert revisits.value == round(1 / 3, 4)
    lists_agree(scope, revisits)

    pathway = Pathway.objects.get(code="discharge-general")
    for patient, reached_after in ((reminded, 4), (booked, 10), (came, None)):
        patient.risk_tier = "high"
        patient.save()
        Plan.objects.create(
            patient=patient,
            organisation=hospital,
            pathway=pathway,
            version=pathway.versions.first(),
            trigger="manual",
            anchor=at(12),
            started_at=at(12),
        )
        if reached_after is not None:
            task(patient, at(12), "done", closed=at(12) + timedelta(hours=reached_after))
    first = metrics.first_intervention(scope)
    assert parts(first) == {"high_risk": 3, "intervened": 2}
    assert first.value == 7.0  # the median of 4 h and 10 h
    lists_agree(scope, first)


def test_thirty_day_readmissions(hospital: Any, patient_factory: Any, bob: Any) -> None:
    back, late, once = (patient_factory(organisation=hospital) for _ in range(3))

    def stay(patient: Any, start: Any, end: Any) -> None:
        Encounter.objects.create(patient=patient, kind="inpatient", started_at=start, ended_at=end)

    stay(back, at(1), at(5))
    stay(back, at(20), at(25))  # 15 days after: readmitted (and itself a discharge)
    stay(late, at(2), at(6))
    stay(late, at(10, month=12), at(12, month=12))  # 34 days after: not within 30
    stay(once, at(3), at(8))
    Encounter.objects.create(patient=once, kind="outpatient", started_at=at(9), ended_at=at(9))
    scope = november(bob)
    figure = metrics.readmissions(scope)
    assert parts(figure) == {"discharges": 4, "readmitted": 1}
    assert figure.value == 0.25
    lists_agree(scope, figure)


def test_a_cancelled_admission_is_no_readmission_nor_discharge(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    """A stay the hospital cancelled (HL7 ADT^A11, kept marked cancelled) counted as a
    30-day readmission of the stay before it, and, discharged, as a discharge."""
    patient = patient_factory(organisation=hospital)
    Encounter.objects.create(patient=patient, kind="inpatient", started_at=at(1), ended_at=at(5))
    Encounter.objects.create(
        patient=patient, kind="inpatient", started_at=at(12), ended_at=at(14), status="cancelled"
    )
    scope = november(bob)
    figure = metrics.readmissions(scope)
    assert parts(figure) == {"discharges": 1, "readmitted": 0}
    lists_agree(scope, figure)


def test_a_consultation_is_not_a_revisit_booked(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    """Given a reminded patient who asked for a consultation (maybe by telephone) instead,
    when the revisit conversion is counted, then it is no revisit booked (nor came, when a
    visit closes it as attended)."""
    asked, came = (patient_factory(organisation=hospital) for _ in range(2))
    for patient in (asked, came):
        task(patient, at(10), "done", closed=at(10, 11), purpose="revisit_reminder")
    for patient, status in ((asked, "booked"), (came, "attended")):
        RevisitRequest.objects.create(
            patient=patient,
            organisation=hospital,
            kind=RevisitRequest.Kind.CONSULTATION,
            wanted_on=date(2026, 11, 20),
            status=status,
            requested_at=at(11),
        )
    scope = november(bob)
    revisits = metrics.revisits(scope)
    assert parts(revisits) == {"reminded": 2, "booked": 0, "visited": 0}
    lists_agree(scope, revisits)


def test_patients_per_staff_member_counts_those_who_care_for_patients(
    hospital: Any, bob: Any
) -> None:
    """The organisation's administrator configures the system and follows no patients: the
    demo's 141 patients were divided among 6 staff, the administrator one of them."""
    from careloop.accounts.roles import Role
    from tests.factories import UserFactory

    UserFactory(username="nurse1", organisation=hospital, role=Role.NURSE)
    UserFactory(username="admin1", organisation=hospital, role=Role.ADMIN)
    scope = november(bob)
    figure = metrics.staffing(scope)
    assert parts(figure)["staff"] == 2  # the supervisor and the nurse
    lists_agree(scope, figure)

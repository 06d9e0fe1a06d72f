"""The patient's pages sent twice: a double tap, or back and submit again, makes one request,
one answer, one reading, points held and earned once, and says so."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.portal.links import make_token
from careloop.portal.models import PointsEntry, Redemption
from tests.portal.test_pages import opened

pytestmark = pytest.mark.django_db


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return found.group(1)


def test_an_exchange_tapped_twice_holds_the_points_once(patient: Any) -> None:
    """Given 100 points, when the patient taps "exchange" twice (or goes back and taps it
    again), then one request holds 30 points; a new tap on the page shown since asks again."""
    PointsEntry.objects.create(patient=patient, points=100, reason="完成问卷")
    token = make_token(patient.pk)
    client = Client()
    opened(client, token)
    page = client.get(f"/p/{token}/points/").content.decode()
    form = {"item": "血压计袖带", "seen": hidden(page, "seen")}  # 30 points
    first = client.post(f"/p/{token}/points/", form).content.decode()
    again = client.post(f"/p/{token}/points/", form).content.decode()
    assert Redemption.objects.count() == 1
    assert 'data-testid="redeem-asked"' in first and 'data-testid="redeem-asked"' in again
    assert "现可使用 70 分" in again
    # Asked again from the page that showed the first request: a second one, deliberately.
    form["seen"] = hidden(again, "seen")
    client.post(f"/p/{token}/points/", form)
    assert Redemption.objects.count() == 2


def test_a_questionnaire_sent_twice_is_answered_once(patient: Any) -> None:
    """Given a link for a follow-up's PHQ-9, when the patient taps "submit" twice with an
    answer that raises an alert (item 9), then one answer is stored, one alert raised, the
    task completed once, points earned once, and both pages thank them and say where to
    turn now."""
    from careloop.followup.models import Alert, FollowUpRecord
    from careloop.questionnaires.models import QuestionnaireResponse
    from tests.test_rules_events import open_task

    task = open_task(patient)
    token = make_token(patient.pk, "questionnaire", questionnaire="phq9", task_id=task.pk)
    client = Client()
    opened(client, token)
    page = client.get(f"/p/{token}/q/phq9/").content.decode()
    form = {**{f"q{n}": "0" for n in range(1, 9)}, "q9": "1", "seen": hidden(page, "seen")}
    first = client.post(f"/p/{token}/q/phq9/", form).content.decode()
    again = client.post(f"/p/{token}/q/phq9/", form).content.decode()
    for shown in (first, again):
        assert 'data-testid="thanks"' in shown and 'data-testid="crisis"' in shown
    assert QuestionnaireResponse.objects.count() == 1
    assert Alert.objects.filter(patient=patient).count() == 1
    assert FollowUpRecord.objects.filter(task=task).count() == 1
    assert sum(PointsEntry.objects.values_list("points", flat=True)) == 5
    # Answered again from a page shown since: a new answer (no more points today).
    form["seen"] = hidden(client.get(f"/p/{token}/q/phq9/").content.decode(), "seen")
    client.post(f"/p/{token}/q/phq9/", form)
    assert QuestionnaireResponse.objects.count() == 2


def test_a_reading_sent_twice_is_stored_once(patient: Any) -> None:
    """Given the patient's page, when a blood pressure is sent twice (the same values at the
    same minute), then it is stored once and both answers give the same feedback; another
    value at that minute is another reading."""
    from careloop.clinical.models import Observation

    token = make_token(patient.pk, "readings")
    client = Client()
    opened(client, token)
    at = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=5)
    form = {"kind": "bp", "sbp": "150", "dbp": "95", "measured_at": f"{at:%Y-%m-%dT%H:%M}"}
    first = client.post(f"/p/{token}/readings/", form).content.decode()
    again = client.post(f"/p/{token}/readings/", form).content.decode()
    readings = Observation.objects.filter(patient=patient, code__in=["8480-6", "8462-4"])
    assert readings.count() == 2  # one systolic, one diastolic
    feedback = re.compile(r'data-testid="feedback".*?</div></div>', re.S)
    assert feedback.findall(first) and feedback.findall(first) == feedback.findall(again)
    client.post(f"/p/{token}/readings/", {**form, "sbp": "148"})
    assert readings.count() == 4


def test_a_redemption_approved_by_two_staff_spends_the_points_once(
    patient: Any, bob: Any, hospital: Any
) -> None:
    """Given a request for 30 points on two supervisors' lists, when both approve it, then
    the points are spent once and the second is told who approved it."""
    from careloop.accounts.roles import Role
    from careloop.portal import points
    from tests.factories import UserFactory
    from tests.test_patients_web import logged_in

    PointsEntry.objects.create(patient=patient, points=100, reason="完成问卷")
    asked = points.request(patient, "血压计袖带")
    other = UserFactory(organisation=hospital, role=Role.SUPERVISOR, display_name="吴复核")
    form = {"redemption": asked.pk, "decision": "approve"}
    logged_in(bob).post("/p/staff/redemptions/", form)
    late = logged_in(other).post("/p/staff/redemptions/", form, follow=True)
    assert points.balance(patient) == 70
    assert "周博" in [str(m) for m in late.context["messages"]][-1]

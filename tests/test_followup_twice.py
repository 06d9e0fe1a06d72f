"""Follow-up actions done twice, or by two people at once: one effect, and the second told
what happened."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.followup.models import (
    Alert,
    FollowUpRecord,
    Pathway,
    RevisitRequest,
    TaskNote,
)
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from tests.test_patients_web import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(hospital: Any, patient_factory: Any) -> Any:
    load_pack()
    patient = patient_factory(name="陈随访", organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    return plan.tasks.order_by("due_at").first()


def said(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_next_steps_sent_twice_are_done_once(task: Any, alice: Any, bob: Any) -> None:
    """Given the task page, when a nurse double-clicks "request a revisit", "raise an alert"
    or "add a note" (or a colleague sends the same), then one revisit, one alert and one note
    are made, and the second is told who was first."""
    nurse, colleague = logged_in(alice), logged_in(bob)
    wanted = (timezone.localdate() + timedelta(days=5)).isoformat()
    revisit = {"revisit-wanted_on": wanted, "revisit-department": "骨科门诊"}
    nurse.post(f"/worklist/tasks/{task.pk}/revisit/", revisit)
    again = colleague.post(f"/worklist/tasks/{task.pk}/revisit/", revisit, follow=True)
    assert RevisitRequest.objects.filter(patient=task.patient).count() == 1
    assert any("已由" in m and "王爱丽" in m for m in said(again)), said(again)
    alert = {"alert-severity": "high", "alert-title": "情绪低落", "alert-reason": "需心理评估"}
    nurse.post(f"/worklist/tasks/{task.pk}/alert/", alert)
    again = nurse.post(f"/worklist/tasks/{task.pk}/alert/", alert, follow=True)
    assert Alert.objects.filter(patient=task.patient).count() == 1
    assert any("王爱丽" in m for m in said(again)), said(again)
    note = {"note-text": "下午方便接电话"}
    nurse.post(f"/worklist/tasks/{task.pk}/note/", note)
    again = nurse.post(f"/worklist/tasks/{task.pk}/note/", note, follow=True)
    assert TaskNote.objects.filter(task=task).count() == 1
    assert said(again)[-1].startswith("这条备注已于")


def seen_on(page: Any) -> str:
    found = re.search(r'name="seen" value="(\d+)"', page.content.decode())
    assert found is not None
    return found.group(1)


def test_an_outcome_saved_twice_is_recorded_once(task: Any, alice: Any, bob: Any) -> None:
    """Given the task page, when a nurse double-clicks "save" on "no answer", then one
    attempt is recorded (one retry planned) and the second click is told it was; when a
    colleague who opened the task before records it too, they are told who did what."""
    nurse, colleague = logged_in(alice), logged_in(bob)
    url = f"/worklist/tasks/{task.pk}/"
    form = {"outcome": "no_answer", "seen": seen_on(nurse.get(url))}
    theirs = {"outcome": "refused", "seen": seen_on(colleague.get(url))}
    nurse.post(url, form)
    again = nurse.post(url, form)
    assert again.status_code == 200
    assert FollowUpRecord.objects.filter(task=task).count() == 1
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("open", 1)
    error = " ".join(again.context["outcome_form"].non_field_errors())
    assert "王爱丽" in error and "无人接听" in error
    refused = colleague.post(url, theirs)
    assert "王爱丽" in " ".join(refused.context["outcome_form"].non_field_errors())
    assert FollowUpRecord.objects.filter(task=task).count() == 1
    # Read again, the colleague records what they found: the page shown since is current.
    theirs["seen"] = seen_on(refused)
    assert colleague.post(url, theirs).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "refused")


def test_an_api_outcome_retried_with_its_key_is_recorded_once(
    task: Any, alice: Any, api_as: Any
) -> None:
    """Given an integrator recording "no answer" over the API with an Idempotency-Key, when
    it sends the request again after a timeout, then the attempt is recorded once and the
    retry is answered 200 with the same record; another key is another attempt."""
    api = api_as(alice)
    url = f"/api/v1/tasks/{task.pk}/outcome"
    api.headers["HTTP_IDEMPOTENCY_KEY"] = "call-2026-12-06-0001"
    first = api.post(url, {"outcome": "no_answer"})
    again = api.post(url, {"outcome": "no_answer"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["record"] == first.json()["record"]
    task.refresh_from_db()
    assert task.attempts == 1 and again.json()["task"]["attempts"] == 1
    assert FollowUpRecord.objects.filter(task=task).count() == 1
    api.headers["HTTP_IDEMPOTENCY_KEY"] = "call-2026-12-06-0002"
    assert api.post(url, {"outcome": "no_answer"}).status_code == 201
    assert FollowUpRecord.objects.filter(task=task).count() == 2
    api.headers["HTTP_IDEMPOTENCY_KEY"] = "k" * 65
    assert api.post(url, {"outcome": "no_answer"}).status_code == 422


def test_an_alert_handled_twice_moves_once_and_says_who_was_first(
    task: Any, alice: Any, bob: Any, api_as: Any
) -> None:
    """Given an open alert, when two people acknowledge it (or one clicks twice, or an
    integrator retries), then it is acknowledged once and the others are told by whom;
    resolved twice, it is resolved once."""
    from careloop.followup.services import raise_alert

    alert = raise_alert(
        task.patient,
        kind=Alert.Kind.RULE,
        severity=Alert.Severity.HIGH,
        title="收缩压 182",
        reason="收缩压≥180 mmHg",
        assignee_id=alice.pk,
    )
    url = f"/alerts/{alert.pk}/"
    logged_in(alice).post(url, {"action": "acknowledge"})
    late = logged_in(bob).post(url, {"action": "acknowledge"}, follow=True)
    assert "王爱丽" in said(late)[-1]
    retried = api_as(alice).post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "acknowledge"})
    assert retried.status_code == 409 and "王爱丽" in retried.json()["detail"]
    resolve = {"action": "resolve", "resolution": "handled", "outcome": "已电话随访"}
    nurse = logged_in(alice)
    nurse.post(url, resolve)
    again = nurse.post(url, resolve, follow=True)
    assert "王爱丽" in said(again)[-1]
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert [e.action for e in alert.events.all()] == ["acknowledge", "resolve"]


def test_a_revisit_booked_by_two_coordinators_keeps_the_first_and_says_so(
    task: Any, alice: Any
) -> None:
    """Given a requested revisit on two coordinators' lists, when one books 09:30 (with a
    double click) and the other then books 10:00 from the page they had open, then it stays
    at 09:30 and the second is told who booked it for when; from the page shown since they
    can move it."""
    from careloop.accounts.roles import Role
    from careloop.followup.handoffs import do_request_revisit
    from tests.factories import UserFactory

    day = timezone.localdate() + timedelta(days=5)
    revisit = do_request_revisit(alice, task.patient, wanted_on=day)
    first, second = (
        logged_in(UserFactory(organisation=task.patient.organisation, role=Role.COORDINATOR))
        for _ in range(2)
    )
    for page in (first.get("/worklist/revisits/"), second.get("/worklist/revisits/")):
        assert 'name="shown" value=""' in page.content.decode()
    url = f"/worklist/revisits/{revisit.pk}/book/"
    first.post(url, {"appointment_at": f"{day}T09:30", "shown": ""})
    twice = first.post(url, {"appointment_at": f"{day}T09:30", "shown": ""}, follow=True)
    assert said(twice)[-1] == "已预约复诊。"
    late = second.post(url, {"appointment_at": f"{day}T10:00", "shown": ""}, follow=True)
    revisit.refresh_from_db()
    assert timezone.localtime(revisit.appointment_at).strftime("%H:%M") == "09:30"
    assert f"{day} 09:30" in said(late)[-1] and str(revisit.booked_by) in said(late)[-1]
    shown = f"{day}T09:30"
    booked = second.get("/worklist/revisits/?status=booked").content.decode()
    assert f'name="shown" value="{shown}"' in booked
    second.post(url, {"appointment_at": f"{day}T10:00", "shown": shown})
    revisit.refresh_from_db()
    assert timezone.localtime(revisit.appointment_at).strftime("%H:%M") == "10:00"


def test_a_referral_accepted_by_one_and_declined_by_another_stays_accepted(
    task: Any, alice: Any, community: Any
) -> None:
    """Given a waiting referral, when one coordinator of the receiving side accepts it and
    another then declines it from the page they had open, then it stays accepted and the
    second is told who accepted it."""
    from careloop.accounts.roles import Role
    from careloop.followup.handoffs import do_refer
    from careloop.patients.models import PatientShare
    from tests.factories import UserFactory

    referral = do_refer(alice, task.patient, community, reason="转社区")
    first, second = (
        UserFactory(organisation=community, role=Role.COORDINATOR, display_name=name)
        for name in ("钱接收", "孙拒绝")
    )
    url = f"/worklist/referrals/{referral.pk}/decide/"
    logged_in(first).post(url, {"decision": "accept", "decision_note": "好"})
    late = logged_in(second).post(
        url, {"decision": "decline", "decision_note": "床位已满"}, follow=True
    )
    referral.refresh_from_db()
    assert (referral.status, referral.decided_by) == ("accepted", first)
    assert "钱接收" in said(late)[-1]
    assert PatientShare.objects.filter(patient=task.patient, organisation=community).exists()

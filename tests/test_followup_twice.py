"""Follow-up actions done twice, or by two people at once: one effect, and the second told
what happened."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.followup.models import Alert, Pathway, RevisitRequest, TaskNote
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

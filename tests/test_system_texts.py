"""Texts the system writes into records and staff read later (an alert's escalation notes,
why a record is shared after a referral, why a follow-up was cancelled) are stored in Chinese
as before and shown in the reader's language, rows written before this change included; a
note someone typed is shown as typed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone, translation

from careloop.followup.alert_flow import escalate_overdue
from careloop.followup.models import Alert, AlertEvent, Pathway, Plan, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.pathways import load_pack
from careloop.followup.planning import cancel_moot_reminders, enrol, stop_plan
from careloop.followup.services import raise_alert
from careloop.patients.models import PatientShare
from careloop.system_texts import ADMISSION, shown
from tests.factories import OrganisationFactory
from tests.outreach.helpers import make_task

pytestmark = pytest.mark.django_db

NOON = timezone.make_aware(datetime(2026, 12, 1, 12, 0))


def _page(user: Any, url: str, language: str) -> str:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_an_escalation_note_is_stored_in_chinese_and_read_in_the_pages_language(
    monkeypatch: Any, cardiology: Any, patient_factory: Any, alice: Any, carol: Any
) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOON)
    patient = patient_factory(organisation=cardiology, responsible_doctor=carol)
    alert = raise_alert(
        patient,
        kind="rule",
        severity="critical",
        title="血钾 6.8",
        reason="危急",
        assignee_id=alice.pk,
    )
    monkeypatch.setattr(timezone, "now", lambda: NOON + timedelta(minutes=31))
    with translation.override("en"):  # whoever runs the sweep, the row reads the same
        assert escalate_overdue() == 1
    note = alert.events.get(action="escalate").note
    assert note == f"超过处理时限，由{alice}升级至{carol}"
    english = _page(carol, f"/alerts/{alert.pk}/", "en")
    assert f"Past the time to respond: escalated from {alice} to {carol}" in english
    assert "超过处理时限" not in english
    chinese = _page(carol, f"/alerts/{alert.pk}/", "zh-hans")
    assert note in chinese


def test_notes_stored_before_read_in_english_and_typed_notes_as_typed(
    hospital: Any, patient_factory: Any, alice: Any, bob: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    alert = raise_alert(
        patient,
        kind=Alert.Kind.RULE,
        severity=Alert.Severity.HIGH,
        title="收缩压 182",
        reason="收缩压≥180 mmHg",
        assignee_id=alice.pk,
    )
    for note in (
        "超过处理时限，没有更高一级的人员，仍由未分配处理",
        f"{alice} → {bob}（工作移交）",
        "家属已电话告知",
    ):
        AlertEvent.objects.create(
            alert=alert, action="escalate", from_status="open", to_status="open", note=note
        )
    english = _page(alice, f"/alerts/{alert.pk}/", "en")
    assert "Past the time to respond; there is nobody higher up, unassigned still handles it" in (
        english
    )
    assert f"{alice} → {bob} (work handed over)" in english
    assert "家属已电话告知" in english  # typed by someone: as typed
    chinese = _page(alice, f"/alerts/{alert.pk}/", "zh-hans")
    assert "仍由未分配处理" in chinese and "（工作移交）" in chinese


def test_a_referrals_share_reason_is_read_in_the_pages_language(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    other = OrganisationFactory(code="H2", name="第二人民医院")
    third = OrganisationFactory(code="H3", name="社区卫生服务中心")
    PatientShare.objects.create(patient=patient, organisation=other, reason="转诊待接收")
    PatientShare.objects.create(patient=patient, organisation=third, reason="已转至第二人民医院")
    english = _page(bob, f"/patients/{patient.pk}/", "en")
    assert "referral waiting to be accepted" in english
    assert "transferred to 第二人民医院" in english
    chinese = _page(bob, f"/patients/{patient.pk}/", "zh-hans")
    assert "转诊待接收" in chinese and "已转至第二人民医院" in chinese


def test_why_a_follow_up_was_cancelled_is_stored_in_chinese_and_shown_in_english(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    load_pack()
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None and plan.tasks.filter(status=Task.Status.OPEN).exists()
    with translation.override("en"):  # stopped from an English page
        stop_plan(plan, Plan.StopReason.TRANSFERRED, alice)
    reason = plan.tasks.filter(status=Task.Status.CANCELLED).first().cancel_reason
    assert reason == "计划已停止：已转出"  # was "计划已停止：transferred" from an English page
    with translation.override("en"):
        assert shown(reason) == "plan stopped: transferred"
    reminder = make_task(patient, consent=False)
    Task.objects.filter(pk=reminder.pk).update(purpose="revisit_reminder", due_at=NOON)
    assert cancel_moot_reminders(patient.pk, NOON, ADMISSION) == 1
    reminder.refresh_from_db()
    assert reminder.cancel_reason == "患者已入院（2026-12-01），提醒不再需要"
    with translation.override("en"):
        assert shown(reminder.cancel_reason) == (
            "the patient has had an admission (2026-12-01): the reminder is no longer needed"
        )
        assert shown("风险/价值分层变化，已按新频率重新安排") == (
            "risk/value tier changed: rescheduled at the new frequency"
        )
    with translation.override("zh-hans"):
        assert shown(reminder.cancel_reason) == reminder.cancel_reason


def test_recording_on_a_closed_follow_up_is_refused_in_the_readers_language(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    task = make_task(patient_factory(organisation=hospital), consent=False)
    Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
    for language, said in [
        ("en", "This follow-up task has ended: nothing more can be recorded on it."),
        ("zh-hans", "该随访任务已结束，不能再记录"),
    ]:
        with translation.override(language), pytest.raises(ValidationError) as raised:
            do_record_attempt(task, alice, Attempt(outcome="no_answer"))
        assert raised.value.messages == [said]

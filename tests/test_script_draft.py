"""A follow-up without a script of its own gets one drafted from the patient's last visit
record (F18): the visit and its diagnoses in the opening, questions from the conditions,
advice from recent abnormal results and medicines."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from careloop.clinical.models import Condition, Encounter, Observation
from careloop.followup.models import Task
from careloop.followup.script_draft import draft_script
from tests.test_patients_web import logged_in


def handmade_task(patient: Any, nurse: Any) -> Task:
    now = timezone.now()
    return Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        title="电话回访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now,
        deadline=now + timedelta(days=2),
        assignee=nurse,
    )


def test_a_task_without_a_script_gets_one_drafted_from_the_last_discharge(
    hospital: Any, cardiology: Any, patient_factory: Any, carol: Any
) -> None:
    patient = patient_factory(organisation=cardiology, name="张桂兰", sex="female")
    discharged = timezone.make_aware(datetime(2026, 11, 20, 10, 0))
    stay = Encounter.objects.create(
        patient=patient,
        organisation=cardiology,
        kind=Encounter.Kind.INPATIENT,
        status=Encounter.Status.FINISHED,
        department="心内科",
        started_at=discharged - timedelta(days=8),
        ended_at=discharged,
    )
    Condition.objects.create(patient=patient, icd10_code="I50.9", name="心力衰竭", encounter=stay)
    Condition.objects.create(patient=patient, icd10_code="I10", name="高血压")
    Observation.objects.create(
        patient=patient,
        code="33762-6",
        name="NT-proBNP",
        value=2300,
        unit="pg/mL",
        interpretation="H",
        effective_at=timezone.now() - timedelta(days=10),
        source="hl7",
    )
    task = handmade_task(patient, carol)

    page = logged_in(carol).get(f"/worklist/tasks/{task.pk}/")
    assert page.status_code == 200 and page.context["script_drafted"]
    assert "本话术草稿根据患者上次就诊记录" in page.content.decode()
    script = dict(page.context["script"])
    assert script["开场白"].startswith("张阿姨您好，我是第一人民医院心内科的李可。")
    assert "您11月20日从心内科出院，诊断是心力衰竭。" in script["开场白"]
    assert "夜里憋醒" in script["问题询问"] and "头晕" in script["问题询问"]  # I50, then I10
    assert script["问题询问"].index("头晕") < script["问题询问"].index("夜里憋醒")
    assert script["问题询问"].endswith("最近还有哪里不舒服吗？")
    assert "最近检查中NT-proBNP有异常" in script["康复指导"]
    assert "少盐少油" in script["康复指导"]  # hypertension


def test_without_any_record_the_draft_still_opens_and_asks(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital, name="李建国", sex="male")
    parts = dict(draft_script(handmade_task(patient, alice), alice))
    assert parts["开场白"] == (
        "李叔叔您好，我是第一人民医院的王爱丽。今天给您打电话，想了解一下您最近的情况，"
        "大概占用您几分钟。"
    )
    assert parts["问题询问"] == "药都按时吃了吗？有没有漏服或者自己停药？最近还有哪里不舒服吗？"
    assert "异常" not in parts["康复指导"] and "少盐" not in parts["康复指导"]
    assert "复诊提醒" not in parts  # no revisit coming


def test_the_reminder_names_a_revisit_or_the_next_follow_up_as_it_is(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital, name="李建国", sex="male")
    task = handmade_task(patient, alice)
    later = handmade_task(patient, alice)
    Task.objects.filter(pk=later.pk).update(due_at=timezone.now() + timedelta(days=20))
    when = f"{timezone.localtime(timezone.now() + timedelta(days=20)):%-m月%-d日}"
    assert dict(draft_script(task, alice)).get("复诊提醒") is None  # a call, not a revisit
    Task.objects.filter(pk=later.pk).update(purpose="revisit_reminder")
    parts = dict(draft_script(task, alice))
    assert parts["复诊提醒"] == f"您下次复诊在{when}之前，记得带上病历和检查结果。"

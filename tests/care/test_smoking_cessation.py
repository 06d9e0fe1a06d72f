"""The smoking-cessation programme (戒烟干预): a quit goal of 0 cigarettes a day allowed and
checked; smoke-free days in a row from the patient's daily reports meet the goal, smoking
again shows as a relapse; the patient checks in on their page (whole numbers 0–100, told the
streak); staff start it with their own target and, when it ended with the goal met, record
the patient as a former smoker on confirmation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.audit.models import AuditEvent
from careloop.care.models import Programme, ProgrammeEnrolment
from careloop.care.programmes import (
    ProgrammeError,
    check_goals,
    do_enrol,
    load_programmes,
    progress,
)
from careloop.clinical.models import Observation, ObservationDefinition
from careloop.patients.models import Lifestyle
from careloop.portal.links import make_token

pytestmark = pytest.mark.django_db
QUIT = {"indicator": "cigarettes", "direction": "at_most", "target": 0, "for_days": 28}


def smoked(patient: Any, count: float, day: date) -> None:
    Observation.objects.create(
        patient=patient,
        code="64218-1",
        name="每日吸烟量",
        value=count,
        unit="支/日",
        effective_at=timezone.make_aware(datetime(day.year, day.month, day.day, 20)),
        source="patient",
    )


@pytest.fixture
def quitting(hospital: Any, patient_factory: Any, bob: Any) -> ProgrammeEnrolment:
    """On the shipped programme, the quit date 40 days ago; smoked 15 a day before."""
    load_programmes()
    patient = patient_factory(organisation=hospital, name="欧阳建国", sex="male")
    Lifestyle.objects.create(patient=patient, smoking="current", cigarettes_per_day=15)
    programme = Programme.objects.get(code="smoking-cessation")
    return do_enrol(bob, patient, programme, timezone.localdate() - timedelta(days=40), {})


def test_a_quit_goal_of_no_cigarettes_is_allowed_and_checked() -> None:
    assert check_goals([QUIT]) == [QUIT]
    assert check_goals([{**QUIT, "target": 5.0}])[0]["target"] == 5  # cutting down
    for wrong, said in (
        ({**QUIT, "direction": "below"}, "不可能少于 0"),  # never met
        ({**QUIT, "direction": "at_least"}, "人人都能达到"),  # always met
        ({**QUIT, "target": 2.5}, "0 到 100 的整数"),
        ({**QUIT, "target": -1}, "0 到 100 的整数"),
        ({**QUIT, "target": 101}, "0 到 100 的整数"),
        ({**QUIT, "for_days": 0}, "连续天数"),
        ({"indicator": "weight", "direction": "at_most", "target": 0}, "正数"),
    ):
        with pytest.raises(ProgrammeError, match=said):
            check_goals([wrong])


def test_the_programme_is_shipped_with_its_indicator_in_the_catalogue() -> None:
    load_programmes()
    programme = Programme.objects.get(code="smoking-cessation")
    assert programme.name == "戒烟干预" and programme.goals == [QUIT]
    assert programme.checkin_every_days == 1
    texts = " ".join(item["text"] for item in programme.education)
    assert (
        "400-888-5531" in texts
        and "12320" in texts
        and "戒断" in " ".join(item["title"] for item in programme.education)
    )
    item = ObservationDefinition.objects.get(code="64218-1")
    assert (item.name, item.unit) == ("每日吸烟量", "支/日")


def test_28_smoke_free_days_in_a_row_meet_the_goal(quitting: ProgrammeEnrolment) -> None:
    patient, today = quitting.patient, timezone.localdate()
    goal = progress(quitting).smoking
    assert goal is not None and goal.baseline == 15.0 and not goal.met  # from the record
    assert goal.goal_text == "每日吸烟量 ≤ 0 支/日，连续 28 天"
    for n in range(27, 0, -1):  # 27 days up to yesterday
        smoked(patient, 0, today - timedelta(days=n))
    goal = progress(quitting).smoking
    assert goal.streak.days == 27 and goal.days_left == 1 and not goal.met
    smoked(patient, 0, today)
    goal = progress(quitting).smoking
    assert goal.streak.days == 28 and goal.met and goal.streak.relapses == 0


def test_a_day_not_reported_starts_the_count_again(quitting: ProgrammeEnrolment) -> None:
    patient, today = quitting.patient, timezone.localdate()
    for n in range(30, -1, -1):
        if n != 10:
            smoked(patient, 0, today - timedelta(days=n))
    goal = progress(quitting).smoking
    assert goal.streak.days == 10 and goal.streak.longest == 20 and not goal.met


def test_smoking_again_shows_as_a_relapse(quitting: ProgrammeEnrolment, bob: Any) -> None:
    patient, today = quitting.patient, timezone.localdate()
    for n, count in ((9, 6), (8, 0), (7, 0), (6, 0), (5, 3), (4, 2), (3, 0), (2, 0)):
        smoked(patient, count, today - timedelta(days=n))
    goal = progress(quitting).smoking
    # Cutting down then quitting is no relapse; 3 after three smoke-free days is one (the
    # 2 the next day the same one).
    assert goal.streak.relapses == 1 and goal.streak.last_relapse == today - timedelta(days=5)
    assert goal.streak.days == 2 and goal.streak.longest == 3 and not goal.met
    client = Client()
    client.force_login(bob)
    page = client.get(f"/care/patients/{patient.pk}/programmes/").content.decode()
    relapse = (today - timedelta(days=5)).strftime("%m-%d")
    assert f"复吸 1 次，最近一次 {relapse}" in page and "连续无烟 2 天" in page
    assert "戒烟日 " + quitting.starts_on.isoformat() in page


def opened(patient: Any, language: str = "zh-hans") -> tuple[Client, str]:
    token = make_token(patient.pk, "home")
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.post(f"/p/{token}/check/", {"answer": patient.birth_date.isoformat()})
    return client, token


def test_the_patient_checks_in_on_their_page(quitting: ProgrammeEnrolment) -> None:
    patient = quitting.patient
    client, token = opened(patient)
    home = client.get(f"/p/{token}/").content.decode()
    assert f'href="/p/{token}/smoke-free/"' in home and "戒烟打卡" in home
    assert f'href="/p/{token}/smoke-free/"' in client.get(f"/p/{token}/readings/").content.decode()
    url = f"/p/{token}/smoke-free/"
    for typed, said in (
        ("3.5", "请填写整数，不带小数点。"),
        ("101", "请核对支数：应在 0 到 100 支之间。"),
        ("-1", "请核对支数：应在 0 到 100 支之间。"),
        ("", "请填写支数：一支也没吸就填 0。"),
    ):
        page = client.post(url, {"day": "today", "cigarettes": typed}).content.decode()
        assert said in page, typed
    assert not Observation.objects.filter(patient=patient, code="64218-1").exists()

    page = client.post(url, {"day": "yesterday", "cigarettes": "0"}).content.decode()
    assert "真棒！您已连续 1 天没有吸烟。" in page and "再坚持 27 天" in page
    sent = {"day": "today", "cigarettes": "0", "cravings": "strong"}
    page = client.post(url, sent).content.decode()
    assert "您已连续 2 天没有吸烟" in page and "烟瘾一般几分钟就会过去" in page
    client.post(url, sent)  # sent twice: stored once
    stored = Observation.objects.filter(patient=patient, code="64218-1").order_by("effective_at")
    assert [o.value for o in stored] == [0, 0] and stored[1].source == "patient"
    assert "烟瘾：强烈" in stored[1].note and stored[1].unit == "支/日"

    page = client.post(url, {"day": "today", "cigarettes": "2"}).content.decode()
    assert "这不等于失败" in page and "400-888-5531" in page  # a correction: smoked today
    assert "已连续无烟 0 天" in page
    assert progress(quitting).smoking.streak.relapses == 1

    english, token = opened(patient, "en")
    page = english.post(
        f"/p/{token}/smoke-free/", {"day": "today", "cigarettes": "0"}
    ).content.decode()
    assert "Smoke-free 2 days in a row." in page


def test_only_a_patient_on_the_programme_has_the_check_in(
    hospital: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    client, token = opened(patient)
    assert client.get(f"/p/{token}/smoke-free/")["Location"] == f"/p/{token}/"
    assert "smoke-free" not in client.get(f"/p/{token}/").content.decode()


def test_staff_start_it_with_their_own_target(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    load_programmes()
    patient = patient_factory(organisation=hospital)
    programme = Programme.objects.get(code="smoking-cessation")
    client = Client()
    client.force_login(bob)
    url = f"/care/patients/{patient.pk}/programmes/"
    wrong = client.post(url, {"programme": programme.pk, "target_cigarettes": "-2"})
    assert "0 到 100 的整数" in wrong.content.decode()
    client.post(url, {"programme": programme.pk, "target_cigarettes": "0"})
    row = ProgrammeEnrolment.objects.get(patient=patient)
    assert row.goals == [QUIT]
    assert "每日吸烟量 ≤ 0 支/日，连续 28 天" in client.get(url).content.decode()


def test_a_former_smoker_is_recorded_only_when_staff_confirm(
    quitting: ProgrammeEnrolment, bob: Any, alice: Any
) -> None:
    patient, today = quitting.patient, timezone.localdate()
    client = Client()
    client.force_login(bob)
    url = f"/care/patients/{patient.pk}/programmes/"
    confirm = f"/care/programmes/{quitting.pk}/former-smoker/"
    for n in range(28, 0, -1):  # 28 days up to yesterday
        smoked(patient, 0, today - timedelta(days=n))
    assert progress(quitting).smoking.met
    # The goal met while the programme runs: not offered, and refused if sent.
    assert 'data-testid="former-smoker"' not in client.get(url).content.decode()
    client.post(confirm)
    assert Lifestyle.objects.get(patient=patient).smoking == "current"

    ProgrammeEnrolment.objects.filter(pk=quitting.pk).update(  # it ended yesterday
        starts_on=today - timedelta(days=90), ends_on=today - timedelta(days=1)
    )
    assert 'data-testid="former-smoker"' in client.get(url).content.decode()
    # The patient's check-in is closed: days after the end would count for nothing.
    patient_page, token = opened(patient)
    page = patient_page.post(f"/p/{token}/smoke-free/", {"day": "today", "cigarettes": "0"})
    assert "已于 " + (today - timedelta(days=1)).isoformat() + " 结束" in page.content.decode()
    assert not Observation.objects.filter(patient=patient, effective_at__date=today).exists()
    nurse = Client()
    nurse.force_login(alice)
    assert nurse.post(confirm).status_code == 403
    assert Lifestyle.objects.get(patient=patient).smoking == "current"
    client.post(confirm)
    said = Lifestyle.objects.get(patient=patient)
    assert said.smoking == "former" and said.cigarettes_per_day is None
    assert AuditEvent.objects.filter(patient_id=patient.pk, object_type="lifestyle").exists()
    assert 'data-testid="former-smoker"' not in client.get(url).content.decode()


def test_on_the_quit_date_yesterday_is_not_offered_nor_taken(
    hospital: Any, patient_factory: Any, bob: Any
) -> None:
    """Yesterday was before the programme: it was praised (真棒) and stored but never
    counted, the streak staying at 0 days."""
    load_programmes()
    patient = patient_factory(organisation=hospital, name="欧阳建国", sex="male")
    programme = Programme.objects.get(code="smoking-cessation")
    do_enrol(bob, patient, programme, timezone.localdate(), {})
    client, token = opened(patient)
    url = f"/p/{token}/smoke-free/"
    assert 'value="yesterday"' not in client.get(url).content.decode()
    page = client.post(url, {"day": "yesterday", "cigarettes": "0"}).content.decode()
    assert "请选择是哪一天。" in page and "真棒" not in page
    assert not Observation.objects.filter(patient=patient, code="64218-1").exists()
    page = client.post(url, {"day": "today", "cigarettes": "0"}).content.decode()
    assert "真棒" in page and 'value="yesterday"' not in page

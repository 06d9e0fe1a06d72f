"""Health lectures (健康讲座, F13): staff plan one, sign patients up (seats limited), mark who
came — each attendance earning the lecture's points once (F11) —, and cancel one; the
lecture is open to the patients of the organisation holding it and of those below it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.audit.models import AuditEvent
from careloop.care import lectures
from careloop.care.models import Lecture, LectureSeat
from careloop.portal.models import PointsEntry
from careloop.portal.points import balance

pytestmark = pytest.mark.django_db


def lecture(organisation: Any, **fields: Any) -> Lecture:
    values = {
        "title": "高血压的自我管理",
        "place": "门诊楼三楼会议室",
        "starts_at": timezone.now() + timedelta(days=3),
        "points": 10,
        **fields,
    }
    return Lecture.objects.create(organisation=organisation, **values)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_supervisor_plans_a_lecture_and_the_form_says_what_is_wrong(
    bob: Any, hospital: Any
) -> None:
    client = signed_in(bob)
    starts = timezone.localtime() + timedelta(days=5)
    form = {
        "organisation": hospital.pk,
        "title": "糖尿病饮食讲座",
        "topic": "糖尿病",
        "speaker": "王医生",
        "starts_at": (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "minutes": 5,
        "place": "社区活动室",
        "capacity": 0,
        "points": 10,
        "description": "",
    }
    refused = client.post("/care/lectures/new/", form)
    assert refused.status_code == 200
    errors = refused.context["form"].errors
    assert set(errors) == {"starts_at", "minutes", "capacity"}
    assert not Lecture.objects.exists()
    form |= {"starts_at": starts.strftime("%Y-%m-%dT%H:%M"), "minutes": 90, "capacity": 30}
    saved = client.post("/care/lectures/new/", form)
    made = Lecture.objects.get()
    assert saved["Location"] == f"/care/lectures/{made.pk}/"
    assert (made.title, made.capacity, made.minutes, made.created_by) == (
        "糖尿病饮食讲座",
        30,
        90,
        bob,
    )
    listed = client.get("/care/lectures/", {"q": "饮食"}).content.decode()
    assert "糖尿病饮食讲座" in listed
    assert "糖尿病饮食讲座" not in client.get("/care/lectures/", {"q": "骨质"}).content.decode()
    assert "糖尿病饮食讲座" not in client.get("/care/lectures/", {"when": "past"}).content.decode()


def test_a_nurse_signs_patients_up_marks_who_came_and_points_are_earned_once(
    alice: Any, hospital: Any, cardiology: Any, patient_factory: Any
) -> None:
    held = lecture(hospital, capacity=2, starts_at=timezone.now() + timedelta(minutes=10))
    first = patient_factory(organisation=cardiology, name="赵秀英")  # below the hospital
    second = patient_factory(organisation=hospital, name="钱国强")
    third = patient_factory(organisation=hospital, name="孙丽华")
    client = signed_in(alice)
    assert client.get("/care/lectures/new/").status_code == 403  # nurses do not plan them
    found = client.get(f"/care/lectures/{held.pk}/", {"q": "赵秀英"}).content.decode()
    assert "赵秀英" in found
    for patient in (first, first, second):  # the same patient twice: one seat
        client.post(f"/care/lectures/{held.pk}/sign-up/", {"patient": patient.pk})
    assert LectureSeat.objects.filter(lecture=held).count() == 2
    full = client.post(
        f"/care/lectures/{held.pk}/sign-up/", {"patient": third.pk}, follow=True
    ).content.decode()
    assert "名额已满" in full or "no seats left" in full
    seats = {s.patient_id: s.pk for s in LectureSeat.objects.filter(lecture=held)}
    client.post(f"/care/lectures/{held.pk}/attendance/", {"came": [seats[first.pk]]})
    client.post(f"/care/lectures/{held.pk}/attendance/", {"came": [seats[first.pk]]})  # again
    assert (balance(first), balance(second)) == (10, 0)
    # A mark made by mistake is taken back, with its points.
    client.post(f"/care/lectures/{held.pk}/attendance/", {"came": [seats[second.pk]]})
    assert (balance(first), balance(second)) == (0, 10)
    reasons = list(PointsEntry.objects.filter(patient=first).values_list("reason", flat=True))
    assert sorted(reasons) == ["参加健康讲座：高血压的自我管理", "撤销讲座签到：高血压的自我管理"]
    assert AuditEvent.objects.filter(object_type="lecture_seat", action="create").count() == 2


def test_attendance_is_not_marked_long_before_the_start(alice: Any, hospital: Any) -> None:
    held = lecture(hospital)
    with pytest.raises(lectures.LectureError):
        lectures.mark_attendance(held, set(), alice)


def test_another_organisations_staff_neither_see_nor_change_the_lecture(
    dave: Any, hospital: Any, community: Any, patient_factory: Any
) -> None:
    held = lecture(hospital)
    client = signed_in(dave)
    assert client.get(f"/care/lectures/{held.pk}/").status_code == 404
    assert "高血压的自我管理" not in client.get("/care/lectures/").content.decode()
    theirs = patient_factory(organisation=community)
    with pytest.raises(lectures.LectureError):  # nor is it open to their patients
        lectures.sign_up(held, theirs, by=dave)


def test_a_cancelled_lecture_needs_a_reason_and_shows_on_the_patients_page(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    held = lecture(hospital)
    patient = patient_factory(organisation=hospital)
    lectures.sign_up(held, patient)
    client = signed_in(bob)
    client.post(f"/care/lectures/{held.pk}/cancel/", {"reason": " "})
    held.refresh_from_db()
    assert held.status == Lecture.Status.SCHEDULED
    done = client.post(f"/care/lectures/{held.pk}/cancel/", {"reason": "讲者临时出诊"}, follow=True)
    held.refresh_from_db()
    assert (held.status, held.cancel_reason) == (Lecture.Status.CANCELLED, "讲者临时出诊")
    assert "1" in done.content.decode()
    with pytest.raises(lectures.LectureError):
        lectures.sign_up(held, patient_factory(organisation=hospital))
    assert not lectures.open_to(patient).exists()


def test_a_lecture_that_took_place_is_not_cancelled(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    held = lecture(hospital, starts_at=timezone.now() - timedelta(minutes=5))
    seat = lectures.sign_up(held, patient_factory(organisation=hospital), by=bob)
    lectures.mark_attendance(held, {seat.pk}, bob)
    with pytest.raises(lectures.LectureError):
        lectures.cancel(held, bob, "写错了")


def test_fewer_seats_than_signed_up_are_refused(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    held = lecture(hospital, capacity=5)
    for _ in range(3):
        lectures.sign_up(held, patient_factory(organisation=hospital))
    client = signed_in(bob)
    form = {
        "organisation": hospital.pk,
        "title": held.title,
        "starts_at": timezone.localtime(held.starts_at).strftime("%Y-%m-%dT%H:%M"),
        "minutes": 60,
        "place": held.place,
        "capacity": 2,
        "points": 10,
    }
    refused = client.post(f"/care/lectures/{held.pk}/edit/", form)
    assert "capacity" in refused.context["form"].errors
    held.refresh_from_db()
    assert held.capacity == 5


def test_lectures_show_on_the_patients_timeline(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    came = lecture(hospital, title="上周的讲座", starts_at=timezone.now() - timedelta(days=1))
    lectures.mark_attendance(came, {lectures.sign_up(came, patient, by=bob).pk}, bob)
    lectures.sign_up(lecture(hospital, title="下周的讲座"), patient)
    lectures.give_up(lectures.sign_up(lecture(hospital, title="不去的讲座"), patient))
    page = signed_in(bob).get(f"/patients/{patient.pk}/").content.decode()
    assert "参加健康讲座" in page and "上周的讲座" in page
    assert "报名健康讲座" in page and "下周的讲座" in page
    assert "不去的讲座" not in page


def test_a_departments_nurse_sees_and_marks_only_her_patients_at_the_hospitals_lecture(
    carol: Any, bob: Any, hospital: Any, cardiology: Any, patient_factory: Any
) -> None:
    held = lecture(hospital, starts_at=timezone.now() - timedelta(minutes=5))
    hers = patient_factory(organisation=cardiology, name="心内科患者")
    other = patient_factory(organisation=hospital, name="医院本部患者")
    theirs = lectures.sign_up(held, other, by=bob)
    lectures.mark_attendance(held, {theirs.pk}, bob)
    mine = lectures.sign_up(held, hers, by=bob)
    client = signed_in(carol)
    page = client.get(f"/care/lectures/{held.pk}/").content.decode()
    assert "心内科患者" in page and "医院本部患者" not in page
    assert 'data-testid="seats-elsewhere"' in page
    client.post(f"/care/lectures/{held.pk}/attendance/", {"came": [mine.pk]})
    assert balance(hers) == 10
    assert balance(other) == 10  # not taken back: it was not on her page


def test_the_lecture_pages_read_english_on_an_english_page(bob: Any, hospital: Any) -> None:
    held = lecture(hospital)
    client = signed_in(bob)
    english = client.get(f"/care/lectures/{held.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Who signed up" in english and "Points for attending" in english
    assert "报名名单" not in english and "参加可得积分" not in english
    listed = client.get("/care/lectures/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "New lecture" in listed and "新建讲座" not in listed


def test_the_points_cannot_change_once_someone_earned_them(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    starts = (timezone.now() - timedelta(days=1)).replace(second=0, microsecond=0)
    held = lecture(hospital, starts_at=starts, points=10)
    seat = lectures.sign_up(held, patient, by=bob)
    lectures.mark_attendance(held, {seat.pk}, bob)
    assert balance(patient) == 10
    form = {
        "organisation": hospital.pk,
        "title": held.title,
        "starts_at": timezone.localtime(starts).strftime("%Y-%m-%dT%H:%M"),
        "minutes": 60,
        "place": held.place,
        "points": 50,
    }
    refused = signed_in(bob).post(f"/care/lectures/{held.pk}/edit/", form)
    assert set(refused.context["form"].errors) == {"points"}
    held.refresh_from_db()
    assert held.points == 10
    lectures.mark_attendance(held, set(), bob)  # the mark undone: what was given taken back
    assert balance(patient) == 0
    form["title"] = "高血压的自我管理（更正）"  # other changes still saved
    form["points"] = 10
    assert signed_in(bob).post(f"/care/lectures/{held.pk}/edit/", form).status_code == 302


def test_the_lecture_forms_organisation_is_labelled_in_chinese(bob: Any, hospital: Any) -> None:
    page = signed_in(bob).get("/care/lectures/new/").content.decode()
    assert 'for="id_organisation">机构</label>' in page
    assert "Organisation" not in page

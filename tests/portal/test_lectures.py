"""Health lectures on the patient's pages: the lectures open to them with the seats left,
signing up and giving the seat up, a lecture not open to them refused, and what became of
the ones they signed up for (attended with its points, cancelled)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.care import lectures
from careloop.care.models import Lecture, LectureSeat
from careloop.portal.links import make_token
from careloop.portal.models import PortalEvent

pytestmark = pytest.mark.django_db


def opened(patient: Any) -> tuple[Client, str]:
    token = make_token(patient.pk, "home")
    client = Client()
    client.get(f"/p/{token}/check/")
    client.post(f"/p/{token}/check/", {"answer": "1960-05-01"})
    return client, f"/p/{token}/lectures/"


def planned(organisation: Any, title: str, **fields: Any) -> Lecture:
    return Lecture.objects.create(
        organisation=organisation,
        title=title,
        place="社区活动室",
        starts_at=fields.pop("starts_at", timezone.now() + timedelta(days=2)),
        **fields,
    )


def test_the_patient_signs_up_and_gives_the_seat_up(patient: Any, hospital: Any) -> None:
    talk = planned(hospital, "合理膳食讲座", capacity=40, points=15)
    client, url = opened(patient)
    shown = client.get(url).content.decode()
    assert "合理膳食讲座" in shown and "40" in shown
    assert PortalEvent.objects.filter(kind="view", page="lectures").count() == 1
    done = client.post(url, {"action": "sign_up", "lecture": talk.pk}, follow=True)
    assert "报名成功" in done.content.decode()
    client.post(url, {"action": "sign_up", "lecture": talk.pk})  # a second tap
    seat = LectureSeat.objects.get()
    assert (seat.patient, seat.registered_by, seat.cancelled_at) == (patient, None, None)
    client.post(url, {"action": "give_up", "seat": seat.pk})
    seat.refresh_from_db()
    assert seat.cancelled_at is not None
    assert lectures.taken(talk) == 0


def test_a_lecture_not_open_to_the_patient_is_refused(
    patient: Any, community: Any, hospital: Any
) -> None:
    elsewhere = planned(community, "别处的讲座")
    started = planned(hospital, "已开始的讲座", starts_at=timezone.now() - timedelta(minutes=1))
    client, url = opened(patient)
    shown = client.get(url).content.decode()
    assert "别处的讲座" not in shown and "已开始的讲座" not in shown
    for talk in (elsewhere, started):
        refused = client.post(url, {"action": "sign_up", "lecture": talk.pk})
        assert refused.status_code == 200
        assert 'data-testid="lecture-error"' in refused.content.decode()
    assert not LectureSeat.objects.exists()


def test_a_full_lecture_cannot_be_signed_up_for(
    patient: Any, hospital: Any, patient_factory: Any
) -> None:
    talk = planned(hospital, "满员讲座", capacity=1)
    lectures.sign_up(talk, patient_factory(organisation=hospital))
    client, url = opened(patient)
    refused = client.post(url, {"action": "sign_up", "lecture": talk.pk}).content.decode()
    assert "名额已满" in refused or "no seats left" in refused
    assert lectures.taken(talk) == 1


def test_the_patient_sees_what_became_of_their_lectures(
    patient: Any, hospital: Any, bob: Any
) -> None:
    came = planned(hospital, "上周的讲座", starts_at=timezone.now() - timedelta(days=1), points=20)
    seat = lectures.sign_up(came, patient, by=bob)
    lectures.mark_attendance(came, {seat.pk}, bob)
    off = planned(hospital, "取消的讲座")
    lectures.sign_up(off, patient)
    lectures.cancel(off, bob, "讲者出诊")
    client, url = opened(patient)
    shown = client.get(url).content.decode()
    assert "讲者出诊" in shown
    assert "20" in shown and ("已参加" in shown or "Attended" in shown)
    points = client.get(url.replace("/lectures/", "/points/")).content.decode()
    assert 'data-testid="balance">20<' in points


def test_a_changed_form_value_is_refused_plainly_and_a_reload_sends_nothing_again(
    patient: Any, hospital: Any
) -> None:
    talk = planned(hospital, "健康讲座")
    client, url = opened(patient)
    for value in ("abc", "-1", "9" * 30):
        refused = client.post(url, {"action": "sign_up", "lecture": value})
        assert refused.status_code == 200
        assert 'data-testid="lecture-error"' in refused.content.decode()
    done = client.post(url, {"action": "sign_up", "lecture": talk.pk})
    assert done.status_code == 302 and done["Location"] == f"{url}?done=signed_up"
    assert 'data-testid="lecture-done"' in client.get(done["Location"]).content.decode()


def test_the_lectures_page_counts_the_seats_of_every_lecture_at_once(
    patient: Any, hospital: Any, patient_factory: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = planned(hospital, "讲座一", capacity=30)
    lectures.sign_up(first, patient_factory(organisation=hospital))
    client, url = opened(patient)

    def queries() -> tuple[int, list[int | None]]:
        with CaptureQueriesContext(connection) as run:
            page = client.get(url)
        return len(run.captured_queries), [left for _lecture, left in page.context["open"]]

    few, _left = queries()
    for n in range(5):
        planned(hospital, f"讲座{n + 2}", capacity=30)
    many, left = queries()
    assert many == few  # not one count of seats per lecture shown
    assert sorted(left) == [29, 30, 30, 30, 30, 30]  # the seats left, as before


def test_giving_the_seat_up_asks_first(patient: Any, hospital: Any) -> None:
    talk = planned(hospital, "合理膳食讲座")
    client, url = opened(patient)
    client.post(url, {"action": "sign_up", "lecture": talk.pk})
    shown = client.get(url).content.decode()
    give_up = shown[: shown.index('value="give_up"')]
    form = give_up[give_up.rindex("<form") :]
    assert 'data-confirm="确定不参加这次讲座了吗？名额将让给其他人。"' in form

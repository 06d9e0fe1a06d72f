"""The exam-package catalogue (体检商城, F20) on the patient's pages: the packages for their
sex and age, the ones their latest results make worth it first (saying why), a booking for a
day that a coordinator gives a time on the Revisits page, cancelled by the patient, and
closed as attended once an exam report follows it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from careloop.clinical.models import DiagnosticReport, Observation
from careloop.followup import exam_packages
from careloop.followup.models import ExamPackage, RevisitRequest
from careloop.portal.links import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _packages(db: None) -> None:
    exam_packages.load_packages()


def opened(patient: Any) -> tuple[Client, str]:
    token = make_token(patient.pk, "home")
    client = Client()
    client.get(f"/p/{token}/check/")
    client.post(f"/p/{token}/check/", {"answer": "1960-05-01"})
    return client, f"/p/{token}/exams/"


def ldl(patient: Any, value: float, flag: str, days_ago: int) -> None:
    Observation.objects.create(
        patient=patient,
        code="2089-1",
        name="低密度脂蛋白胆固醇",
        value=value,
        unit="mmol/L",
        interpretation=flag,
        effective_at=timezone.now() - timedelta(days=days_ago),
    )


def codes(patient: Any) -> list[str]:
    return [offer.package.code for offer in exam_packages.offers(patient)]


def test_packages_are_offered_by_sex_and_age(patient_factory: Any, hospital: Any) -> None:
    woman = patient_factory(organisation=hospital, sex="female")  # born 1960
    assert codes(woman) == ["basic", "cardio", "glucose", "women"]
    young = patient_factory(
        organisation=hospital, birth_date=timezone.localdate().replace(year=2000)
    )
    assert codes(young) == ["basic", "glucose"]  # a man of 26: no cardio (35+), no men-50
    assert codes(patient_factory(organisation=hospital)) == ["basic", "cardio", "glucose", "men-50"]


def test_the_latest_abnormal_result_recommends_a_package_and_says_why(
    patient: Any,
) -> None:
    ldl(patient, 4.6, "H", days_ago=200)
    ldl(patient, 2.9, "N", days_ago=20)  # back in range since: nothing to recommend
    assert not any(offer.why for offer in exam_packages.offers(patient))
    ldl(patient, 4.4, "H", days_ago=1)
    first = exam_packages.offers(patient)[0]
    assert (first.package.code, first.why) == ("cardio", ["低密度脂蛋白胆固醇"])
    client, url = opened(patient)
    page = client.get(url).content.decode()
    assert 'data-testid="recommended"' in page and "低密度脂蛋白胆固醇" in page


def test_the_patient_books_a_package_and_the_coordinator_gives_it_a_time(
    patient: Any, bob: Any
) -> None:
    cardio = ExamPackage.objects.get(code="cardio")
    client, url = opened(patient)
    day = timezone.localdate() + timedelta(days=10)
    for _ in range(2):  # a second tap: one booking
        sent = client.post(url, {"package": cardio.pk, "wanted_on": day.isoformat()})
        assert sent.status_code == 302 and sent["Location"] == f"{url}?done=booked"
    booking = RevisitRequest.objects.get()
    assert (booking.kind, booking.package, booking.wanted_on, booking.requested_by) == (
        "exam",
        cardio,
        day,
        None,
    )
    lead = Client()
    lead.force_login(bob)
    listed = lead.get("/worklist/revisits/", {"kind": "exam"}).content.decode()
    assert "心脑血管风险筛查套餐" in listed and "体检" in listed
    assert "心脑血管" not in lead.get("/worklist/revisits/", {"kind": "revisit"}).content.decode()
    lead.post(f"/worklist/revisits/{booking.pk}/book/", {"appointment_at": f"{day}T08:00"})
    shown = client.get(url).content.decode()
    assert f"已预约 {day:%Y-%m-%d} 08:00" in shown
    lead.post(f"/worklist/revisits/{booking.pk}/held/")
    booking.refresh_from_db()
    assert booking.status == "attended"


def test_a_booking_asked_wrongly_is_refused_saying_why(
    patient: Any, patient_factory: Any, hospital: Any
) -> None:
    client, url = opened(patient)
    men = ExamPackage.objects.get(code="men-50")
    basic = ExamPackage.objects.get(code="basic")
    woman = patient_factory(organisation=hospital, sex="female")
    woman_client, woman_url = opened(woman)
    far = timezone.localdate() + timedelta(days=91)
    past = timezone.localdate() - timedelta(days=1)
    for sent_by, where, form in (
        (woman_client, woman_url, {"package": men.pk, "wanted_on": "2030-01-01"}),
        (client, url, {"package": basic.pk, "wanted_on": far.isoformat()}),
        (client, url, {"package": basic.pk, "wanted_on": past.isoformat()}),
        (client, url, {"package": basic.pk, "wanted_on": "下周一"}),
        (client, url, {"package": "abc", "wanted_on": "2030-01-01"}),
    ):
        refused = sent_by.post(where, form)
        assert refused.status_code == 200
        assert 'data-testid="exam-error"' in refused.content.decode()
    assert not RevisitRequest.objects.exists()


def test_the_patient_cancels_and_an_exam_report_closes_a_booking(
    patient: Any, patient_factory: Any, hospital: Any
) -> None:
    basic = ExamPackage.objects.get(code="basic")
    day = timezone.localdate() + timedelta(days=3)
    dropped = exam_packages.book(patient, basic, day)
    client, url = opened(patient)
    client.post(url, {"action": "cancel", "booking": dropped.pk})
    dropped.refresh_from_db()
    assert dropped.status == "cancelled"

    other = patient_factory(organisation=hospital)
    DiagnosticReport.objects.create(  # an earlier exam does not answer a new booking
        patient=other, name="年度体检", effective_at=timezone.now() - timedelta(days=30)
    )
    kept = exam_packages.book(other, basic, day)
    # A routine report before the day booked (a clinic's HbA1c) does not close it.
    DiagnosticReport.objects.create(patient=other, name="糖化血红蛋白", effective_at=timezone.now())
    assert exam_packages.close_attended() == 0
    on_the_day = timezone.make_aware(datetime.combine(day, time(9, 30)))
    DiagnosticReport.objects.create(patient=other, name="年度体检", effective_at=on_the_day)
    assert exam_packages.close_attended() == 1
    kept.refresh_from_db()
    assert kept.status == "attended"
    dropped.refresh_from_db()
    assert dropped.status == "cancelled"  # not reopened, not closed again


def test_a_package_with_an_unknown_item_code_or_no_items_is_refused(hospital: Any) -> None:
    package = ExamPackage(
        organisation=hospital, code="x", name="X", price=100, items=[], recommend_for=["0000-0"]
    )
    with pytest.raises(ValidationError) as error:
        package.full_clean()
    assert set(error.value.message_dict) == {"items", "recommend_for"}


def test_the_exam_page_reads_english_on_an_english_page(patient: Any) -> None:
    client, url = opened(patient)
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Book this package" in english and "items checked" in english
    assert "预约这个套餐" not in english and "项检查" not in english


def test_a_package_offered_for_points_is_exchanged_like_any_reward(
    patient: Any, patient_factory: Any, hospital: Any
) -> None:
    from careloop.portal import points
    from careloop.portal.models import PointsEntry

    ExamPackage.objects.filter(code="men-50").update(points=500)
    PointsEntry.objects.create(patient=patient, points=320, reason="测试")
    assert ("体检套餐：基础健康体检套餐", 300) in points.rewards(patient)
    client, url = opened(patient)
    page = client.get(url.replace("/exams/", "/points/")).content.decode()
    assert "体检套餐：基础健康体检套餐" in page
    asked = points.request(patient, "体检套餐：基础健康体检套餐")
    assert asked.points == 300
    woman = patient_factory(organisation=hospital, sex="female")
    PointsEntry.objects.create(patient=woman, points=900, reason="测试")
    assert "体检套餐：男性 50+ 专项体检套餐" not in dict(points.rewards(woman))
    with pytest.raises(ValidationError):  # not offered to her: no such reward
        points.request(woman, "体检套餐：男性 50+ 专项体检套餐")

"""Health record entries are checked as a clinician would: no date still to come, no medicine
stopped before it started, no second active copy of a diagnosis, no cigarettes for someone who
never smoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from careloop.clinical.models import Condition
from careloop.patients.models import Lifestyle, Medication
from tests.test_patients_web import logged_in

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_a_diagnosis_dated_ahead_or_already_active_is_refused(
    carol: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=carol.organisation)
    url = f"/patients/{patient.pk}/record/diagnosis/add/"
    client = logged_in(carol)
    ahead = (timezone.localdate() + timedelta(days=400)).isoformat()
    entry = {"icd10_code": "E11.9", "clinical_status": "active"}
    refused = client.post(url, {**entry, "onset_date": ahead}, **ZH)
    assert refused.status_code == 200 and "该日期晚于今天" in refused.content.decode()
    assert client.post(url, {**entry, "onset_date": "2019-03-01"}).status_code == 302
    twin = client.post(url, {**entry, "onset_date": "2020-01-01"}, **ZH)
    assert "档案中已有该诊断" in twin.content.decode()
    assert client.post(url, {**entry, "clinical_status": "resolved"}).status_code == 302
    assert Condition.objects.filter(patient=patient).count() == 2  # the active one, a past one


def test_a_medicine_stopped_before_it_started_is_refused(carol: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=carol.organisation)
    url = f"/patients/{patient.pk}/record/medication/add/"
    medicine = {"name": "二甲双胍", "category": "glucose_lowering", "started_on": "2024-01-01"}
    refused = logged_in(carol).post(url, {**medicine, "stopped_on": "2023-01-01"}, **ZH)
    assert "停用日期不能早于开始日期" in refused.content.decode()
    later = (timezone.localdate() + timedelta(days=14)).isoformat()  # a planned stop is fine
    assert logged_in(carol).post(url, {**medicine, "stopped_on": later}).status_code == 302
    assert Medication.objects.filter(patient=patient).count() == 1


def test_someone_who_never_smoked_has_no_cigarettes_a_day(carol: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=carol.organisation)
    url = f"/patients/{patient.pk}/lifestyle/"
    page = logged_in(carol).post(url, {"smoking": "never", "cigarettes_per_day": "20"}, **ZH)
    assert "从不吸烟者的日吸烟量应为空" in page.content.decode()
    assert not Lifestyle.objects.filter(patient=patient).exists()

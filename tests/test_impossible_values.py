"""Values no measurement can have, refused by every way in; values in a unit that could not be
converted kept off another unit's chart; imported reports not named after the file."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from careloop.clinical import catalogue, trends
from careloop.clinical.assessment import ImpossibleValue, ResultInput, assess
from careloop.clinical.models import Observation
from careloop.clinical.services import do_record_results
from careloop.followup.models import Alert
from careloop.interop.models import CodeMapping, InboundMessage, SourceSystem
from tests.factories import PatientFactory
from tests.test_mllp import fixture, hospital_org, mllp, msa, process_all, send_raw  # noqa: F401

GLU = "14749-6"


def _lis(glucose_obx: str) -> bytes:
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    text = text.replace("OBX|1|NM|GLU^葡萄糖^L||3.2|mmol/L|3.9-6.1|L|||F|", glucose_obx)
    return b"\x0b" + text.encode() + b"\x1c\r"


def test_assessing_a_negative_measured_value_refuses_it(db: None) -> None:
    result = ResultInput("葡萄糖", timezone.now(), loinc=GLU, value=-3.0, unit="mmol/L")
    with pytest.raises(ImpossibleValue, match="14749-6"):
        assess(result, sex="male", age=60, organisation_path="/", catalogue=catalogue.current())
    text = ResultInput("乙肝表面抗原", timezone.now(), local_code="HBSAG", value=-1.0)
    assess(text, sex="male", age=60, organisation_path="/", catalogue=catalogue.current())


@pytest.mark.django_db(transaction=True)
def test_a_negative_loinc_coded_glucose_over_hl7_is_answered_ae_naming_obx_5(
    mllp: Any,  # noqa: F811
) -> None:
    [ack] = send_raw(mllp, _lis("OBX|1|NM|14749-6^葡萄糖^LN||-3|mmol/L|3.9-6.1|L|||F|"), expect=1)
    err = next(line for line in ack.split("\r") if line.startswith("ERR|"))
    assert msa(ack) == "AE" and err.startswith("ERR|OBX^1^5^102")  # the first OBX, field 5
    assert "'-3' is negative, which 14749-6 (葡萄糖) cannot be" in err
    message = InboundMessage.objects.get()
    assert message.raw  # kept as it came
    assert not Observation.objects.exists() and not Alert.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_negative_value_of_a_mapped_local_code_fails_its_message_whole(
    mllp: Any,  # noqa: F811
    hospital_org: Any,  # noqa: F811
) -> None:
    source = SourceSystem.objects.create(facility="DEMO-LIS", organisation=hospital_org)
    CodeMapping.objects.create(source=source, local_code="GLU", loinc=GLU)
    [ack] = send_raw(mllp, _lis("OBX|1|NM|GLU^葡萄糖^L||-3|mmol/L|3.9-6.1|L|||F|"), expect=1)
    assert msa(ack) == "AA"  # the listener cannot know GLU is glucose
    assert process_all(fast=False).failed == 1
    message = InboundMessage.objects.get()
    assert message.status == "failed" and "cannot be negative" in message.error
    assert not Observation.objects.exists() and not Alert.objects.exists()  # nothing half-written


def test_fhir_refuses_a_negative_value_and_a_time_in_the_future(
    api_as: Any, bob: Any, hospital: Any
) -> None:
    patient = PatientFactory(organisation=hospital)
    body = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": GLU}]},
        "subject": {"reference": f"Patient/{patient.pk}"},
        "effectiveDateTime": timezone.now().isoformat(),
        "valueQuantity": {"value": -3, "unit": "mmol/L"},
    }
    api = api_as(bob)
    negative = api.post("/fhir/R4/Observation", body)
    assert negative.status_code == 422
    assert "cannot be negative" in negative.json()["issue"][0]["diagnostics"]
    later = timezone.now() + timedelta(days=30)
    body |= {
        "valueQuantity": {"value": 5.2, "unit": "mmol/L"},
        "effectiveDateTime": later.isoformat(),
    }
    future = api.post("/fhir/R4/Observation", body)
    assert future.status_code == 422 and "in the future" in future.json()["issue"][0]["diagnostics"]
    body["effectiveDateTime"] = (timezone.now() + timedelta(minutes=2)).isoformat()  # clock skew
    assert api.post("/fhir/R4/Observation", body).status_code == 201
    assert Observation.objects.count() == 1


def test_a_value_in_a_unit_that_could_not_be_converted_is_kept_off_the_chart(
    hospital: Any,
) -> None:
    patient = PatientFactory(organisation=hospital)
    now = timezone.now()
    for days, value, unit in ((30, 5.1, "mmol/L"), (20, 99.0, "mg/dL"), (10, 3.2, "furlongs")):
        do_record_results(
            patient,
            None,
            [ResultInput("葡萄糖", now - timedelta(days=days), loinc=GLU, value=value, unit=unit)],
            source="manual",
            source_label="test",
        )
    data = trends.series(patient, GLU)
    assert data["unit"] == "mmol/L" and data["omitted"] == 1
    assert [p["value"] for p in data["points"]] == [5.1, 5.5]  # 99 mg/dL converted; not 3.2


def test_an_import_refuses_a_negative_result_and_names_reports_for_patients(bob: Any) -> None:
    """A negative fasting glucose is a row error naming the item; the report of the rows
    stored is named for the patient who reads it, not after the uploaded file."""
    from django.utils import translation

    from careloop.clinical.models import DiagnosticReport
    from careloop.interop.importer.runner import Importer
    from tests.test_import import create, long_rows, xlsx

    good = long_rows(bad=False)
    negative = [*good[0][:9], -6.4, "mmol/L", ""]
    with translation.override("zh-hans"):
        job = Importer(create(bob, xlsx([negative, good[1]]), name="imp.csv.xlsx")).run()
        report = load_workbook(io.BytesIO(job.error_report.read())).active
        lines = list(report.iter_rows(values_only=True))
    assert (job.imported_rows, job.error_rows) == (1, 1)
    assert "空腹血糖：结果不可能为负数" in lines[1][-1]
    assert set(DiagnosticReport.objects.values_list("name", flat=True)) == {"检查检验结果"}


def test_an_item_an_administrator_adds_may_be_negative(db: None) -> None:
    """Base excess is negative as often as not: an added item is not refused below 0."""
    from careloop.clinical.models import ObservationDefinition

    ObservationDefinition.objects.create(
        code="11555-0", name="碱剩余", name_en="Base excess", category="blood_gas", unit="mmol/L"
    )
    catalogue.invalidate()
    result = ResultInput("碱剩余", timezone.now(), loinc="11555-0", value=-4.2, unit="mmol/L")
    found = assess(result, sex="male", age=60, organisation_path="/", catalogue=catalogue.current())
    assert found.fields["value"] == -4.2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("OBX|1|NM|GLU^葡萄糖^L||3.2|mmol/L|3.9-6.1|L|||F|", "|20300101080000", "OBX^1^14"),
        ("OBR|", "OBR|", "OBR"),
    ],
    ids=["OBX-14", "OBR-7"],
)
def test_a_result_dated_in_the_future_over_hl7_is_refused_naming_its_field(
    mllp: Any,  # noqa: F811
    old: str,
    new: str,
    field: str,
) -> None:
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    if field == "OBR":  # the order's observation time (OBR-7), which its results inherit
        obr = next(line for line in text.split("\r") if line.startswith("OBR|"))
        parts = obr.split("|")
        parts[7] = "20300101080000"
        text = text.replace(obr, "|".join(parts))
        field = "OBR^"
    else:
        obx = next(line for line in text.split("\r") if line.startswith(old))
        parts = obx.split("|") + [""] * 15
        parts[14] = new.strip("|")
        text = text.replace(obx, "|".join(parts).rstrip("|"))
    [ack] = send_raw(mllp, b"\x0b" + text.encode() + b"\x1c\r", expect=1)
    err = next(line for line in ack.split("\r") if line.startswith("ERR|"))
    assert (
        msa(ack) == "AE"
        and err.startswith(f"ERR|{field}")
        and "2030-01-01 08:00 is in the future" in err
    )
    assert InboundMessage.objects.get().raw and not Observation.objects.exists()


def test_an_import_row_dated_in_the_future_is_a_row_error(bob: Any) -> None:
    from datetime import datetime

    from django.utils import translation

    from careloop.interop.importer.runner import Importer
    from tests.test_import import create, long_rows, xlsx

    good = long_rows(bad=False)
    future = [*good[0][:6], datetime(2030, 11, 30, 8, 0), *good[0][7:]]
    with translation.override("zh-hans"):
        job = Importer(create(bob, xlsx([future, good[1]]), name="future.xlsx")).run()
        report = load_workbook(io.BytesIO(job.error_report.read())).active
        lines = list(report.iter_rows(values_only=True))
    assert (job.imported_rows, job.error_rows) == (1, 1)
    assert "检查日期晚于当前时间" in lines[1][-1]


@pytest.mark.django_db(transaction=True)
def test_a_mistyped_loinc_code_is_refused_by_every_way_in(
    mllp: Any,  # noqa: F811
    bob: Any,
) -> None:
    """99999-9 cannot be a LOINC code (its check digit would be 5): refused naming it, not
    stored as an item nobody can grade. A local code (GLU) is still taken."""
    from careloop.clinical.loinc import loinc_problem
    from careloop.interop.importer.runner import Importer
    from tests.test_import import create, long_rows, xlsx

    assert loinc_problem("14749-6") == "" and "would be 5" in loinc_problem("99999-9")
    [ack] = send_raw(mllp, _lis("OBX|1|NM|99999-9^葡萄糖^LN||5.2|mmol/L|3.9-6.1||||F|"), expect=1)
    err = next(line for line in ack.split("\r") if line.startswith("ERR|"))
    assert msa(ack) == "AE" and err.startswith("ERR|OBX^1^3^103") and "99999-9" in err
    good = long_rows(bad=False)
    typo = [*good[0][:7], "99999-9", "", *good[0][9:]]
    job = Importer(create(bob, xlsx([typo, good[1]]), name="typo.xlsx")).run()
    assert (job.imported_rows, job.error_rows) == (1, 1)
    assert not Observation.objects.filter(code="99999-9").exists()

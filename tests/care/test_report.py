"""The printed health report: a PDF whose text (pdftotext) holds the Chinese letterhead,
patient, results with flags, the plain-language note, risk assessment and advice, set in
Noto Sans CJK (pdffonts); each copy archived with its hash and audited; the same over the
API; batch printing of a list into one zip."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.audit.models import AuditEvent
from careloop.care.models import PrintedReport, ReportBatch
from careloop.care.report import print_report
from careloop.care.tasks import print_batch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_report_in_chinese_archived_and_audited(
    examined: Any, bob: Any, tmp_path: Path
) -> None:
    copy = print_report(bob, examined)
    pdf = copy.file.open("rb").read()
    assert pdf.startswith(b"%PDF") and copy.sha256 == hashlib.sha256(pdf).hexdigest()
    text = pdf_text(pdf, tmp_path)
    for expected in (
        examined.organisation.name,
        "个人健康报告",
        "诸葛明月",
        "低密度脂蛋白胆固醇",
        "偏高",
        "1级高血压",
        "限盐饮食",
        "指标趋势",
    ):
        assert expected in text, expected
    assert examined.id_number not in text  # identifiers are masked
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    embedded = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert embedded and all("Noto-Sans-CJK-SC" in name for name in embedded), fonts
    event = AuditEvent.objects.get(action="print", patient_id=examined.pk)
    assert event.object_id == str(copy.pk)


def test_the_api_and_the_page(
    examined: Any, bob: Any, api_as: Any, community: Any, patient_factory: Any
) -> None:
    answer = api_as(bob).get(f"/api/v1/patients/{examined.pk}/report.pdf")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    elsewhere = patient_factory(organisation=community)
    assert api_as(bob).get(f"/api/v1/patients/{elsewhere.pk}/report.pdf").status_code == 404
    client = Client()
    client.force_login(bob)
    page = client.get(f"/care/patients/{examined.pk}/report.pdf")
    assert page["Content-Type"] == "application/pdf"
    assert PrintedReport.objects.filter(patient=examined).count() == 2


def test_the_report_printed_from_an_english_page_is_chinese_throughout(
    examined: Any, bob: Any, tmp_path: Path
) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(bob)
    page = client.get(f"/care/patients/{examined.pk}/report.pdf")
    text = pdf_text(b"".join(page.streaming_content) if page.streaming else page.content, tmp_path)
    sex = "男" if examined.sex == "male" else "女"
    assert f"性别：{sex}" in text and "岁" in text
    assert "male" not in text and " y " not in text


def test_batch_printing(examined: Any, bob: Any, patient_factory: Any, community: Any) -> None:
    other = patient_factory(organisation=examined.organisation, name="东方白")
    hidden = patient_factory(organisation=community)
    client = Client()
    client.force_login(bob)
    started = client.post("/care/reports/batch/", {"patient": [examined.pk, hidden.pk, other.pk]})
    batch = ReportBatch.objects.get()
    assert started["Location"] == f"/care/reports/batch/{batch.pk}/"
    assert batch.patient_ids == [examined.pk, other.pk] and batch.total == 2  # not `hidden`
    print_batch.call(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "done" and batch.printed == 2
    progress = client.get(f"/care/reports/batch/{batch.pk}/progress/").content.decode()
    assert 'data-status="done"' in progress and 'data-testid="batch-download"' in progress
    zipped = client.get(f"/care/reports/batch/{batch.pk}/download/")
    names = zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))).namelist()
    assert names == [f"{examined.card_number}.pdf", f"{other.card_number}.pdf"]
    assert PrintedReport.objects.filter(batch=batch).count() == 2
    assert print_batch.call(batch.pk) == "done"  # run twice: nothing printed again
    assert PrintedReport.objects.count() == 2


def test_a_batch_of_ids_too_long_to_be_patients_prints_nothing(bob: Any) -> None:
    """A 23-digit id in the form reached SQLite ("too large to convert"): a 500."""
    client = Client()
    client.force_login(bob)
    answer = client.post("/care/reports/batch/", {"patient": ["9" * 23], "next": "/patients/"})
    assert answer.status_code == 302 and not ReportBatch.objects.exists()


def test_results_are_printed_as_read_with_their_comparator_and_unit(
    hospital: Any, patient_factory: Any, bob: Any, tmp_path: Path
) -> None:
    """A censored value prints ">1000", not the bare bound; a value sent without a unit
    prints in the catalogue unit it was read in; a whole number prints without ".0"."""
    from careloop.clinical.models import DiagnosticReport, Observation

    patient = patient_factory(organisation=hospital, name="欧阳春")
    report = DiagnosticReport.objects.create(
        patient=patient, name="体检", effective_at=timezone.now()
    )
    common = {"patient": patient, "report": report, "effective_at": report.effective_at}
    Observation.objects.create(
        **common, code="8480-6", name="收缩压", value=150.0, value_normalised=150.0,
        unit="", unit_normalised="mmHg", interpretation="H",
    )  # fmt: skip
    Observation.objects.create(
        **common, code="1742-6", name="丙氨酸氨基转移酶", value=1000.0, comparator=">",
        value_text=">1000", unit="U/L", unit_normalised="U/L", interpretation="HH",
    )  # fmt: skip
    text = pdf_text(print_report(bob, patient).file.open("rb").read(), tmp_path)
    rows = {line.split()[0]: line.split()[1:3] for line in text.splitlines() if line.strip()}
    assert rows["收缩压"] == ["150", "mmHg"]
    assert rows["丙氨酸氨基转移酶"] == [">1000", "U/L"]


def test_measurements_outside_an_exam_report_are_printed_when_newer(examined: Any) -> None:
    """A blood pressure taken on a follow-up or sent over FHIR after the last exam was left
    off the report's results, while its risk assessment already used it."""
    from datetime import timedelta

    from django.template.loader import render_to_string

    from careloop.care.report import context
    from careloop.clinical.models import Observation

    now = timezone.now()

    def measured(code: str, name: str, value: float, unit: str, days: int, **extra: Any) -> None:
        Observation.objects.create(
            patient=examined,
            code=code,
            name=name,
            value=value,
            unit=unit,
            effective_at=now - timedelta(days=days),
            source="manual",
            **extra,
        )

    measured("8480-6", "收缩压", 146, "mmHg", 3, interpretation="H")
    measured("8480-6", "收缩压", 141, "mmHg", 9)  # an older one of the same item
    measured("29463-7", "体重", 63.5, "kg", 20)
    measured("2089-1", "低密度脂蛋白胆固醇", 2.0, "mmol/L", 200)  # before the exam (06-10)
    measured("2093-3", "总胆固醇", 9.9, "mmol/L", 2, status="cancelled")  # withdrawn
    rows = [(o.name, o.value) for o, _note in context(examined)["measured"]]
    assert rows == [("收缩压", 146), ("体重", 63.5)]
    html = render_to_string("care/report.html", context(examined))
    assert "近期测量" in html and "146" in html and "↑ 偏高" in html

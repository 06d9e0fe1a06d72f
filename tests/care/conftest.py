"""A patient with a hypertension diagnosis, two exams a year apart (LDL-C high in the
latest) and a BP-grade assessment: what the health plan and the printed report read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from careloop.clinical.models import Condition, DiagnosticReport, Observation
from careloop.rules.models import RiskAssessment


def when(year: int, month: int = 6) -> datetime:
    return timezone.make_aware(datetime(year, month, 10, 9))


def result(
    patient: Any,
    report: Any,
    code: str,
    name: str,
    value: float,
    unit: str,
    flag: str = "N",
    low: float | None = None,
    high: float | None = None,
) -> Observation:
    return Observation.objects.create(
        patient=patient,
        report=report,
        code=code,
        name=name,
        value=value,
        value_normalised=value,
        unit=unit,
        unit_normalised=unit,
        ref_low=low,
        ref_high=high,
        interpretation=flag,
        effective_at=report.effective_at,
    )


@pytest.fixture
def examined(hospital: Any, patient_factory: Any) -> Any:
    patient = patient_factory(organisation=hospital, name="诸葛明月", sex="female")
    Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    for year, sbp, ldl, flag in ((2025, 138, 3.1, "N"), (2026, 152, 4.4, "H")):
        report = DiagnosticReport.objects.create(
            patient=patient, name="年度体检", effective_at=when(year), conclusion="血脂偏高"
        )
        result(
            patient, report, "8480-6", "收缩压", sbp, "mmHg", "H" if sbp >= 140 else "N", 90, 139
        )
        result(patient, report, "2089-1", "低密度脂蛋白胆固醇", ldl, "mmol/L", flag, None, 3.4)
    RiskAssessment.objects.create(
        patient=patient,
        model="bp-grade",
        version="2018",
        category="1级高血压",
        inputs={"sbp_mmHg": 152, "dbp_mmHg": 88},
        result={},
        explanation="收缩压 152 mmHg，属于 1 级高血压。",
    )
    return patient

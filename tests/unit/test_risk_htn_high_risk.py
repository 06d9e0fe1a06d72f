"""Hypertension high-risk people, BPHS 3rd edition (REFERENCE §1.1): each of the six factors
at its boundary."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.rules.risk.base import InputError
from careloop.rules.risk.htn_high_risk import HtnHighRiskInput, htn_high_risk

NONE_OF_THEM = {
    "age": 40,
    "sex": "male",
    "sbp_mmHg": 125,
    "dbp_mmHg": 80,
    "bmi": 22.0,
    "waist_cm": 80,
    "family_history_hypertension": False,
    "high_salt_diet": False,
    "spirits_ml_per_day": 0,
}


def classed(**changed: Any) -> tuple[str, list[str]]:
    result = htn_high_risk(HtnHighRiskInput(**{**NONE_OF_THEM, **changed}))
    return result.category, result.factors


def test_none_of_the_six_factors_is_not_high_risk() -> None:
    assert classed() == ("非高危人群", [])


@pytest.mark.parametrize(
    ("changed", "high"),
    [
        ({"sbp_mmHg": 129}, False),
        ({"sbp_mmHg": 130}, True),  # high-normal: SBP 130–139
        ({"sbp_mmHg": 139}, True),
        ({"dbp_mmHg": 84}, False),
        ({"dbp_mmHg": 85}, True),  # and/or DBP 85–89
        ({"dbp_mmHg": 89}, True),
        ({"bmi": 23.9}, False),
        ({"bmi": 24.0}, True),  # overweight 24 ≤ BMI < 28
        ({"bmi": 28.0}, True),  # obese
        ({"waist_cm": 89.9}, False),
        ({"waist_cm": 90}, True),  # abdominal obesity: men ≥ 90 cm
        ({"sex": "female", "waist_cm": 84.9}, False),
        ({"sex": "female", "waist_cm": 85}, True),  # women ≥ 85 cm
        ({"family_history_hypertension": True}, True),
        ({"high_salt_diet": True}, True),
        ({"spirits_ml_per_day": 99}, False),
        ({"spirits_ml_per_day": 100}, True),  # ≥ 100 mL of spirits a day
        ({"age": 54.9}, False),
        ({"age": 55}, True),
    ],
)
def test_each_factor_at_its_boundary(changed: dict[str, Any], high: bool) -> None:
    category, factors = classed(**changed)
    assert (category == "高危人群") is high
    assert len(factors) == int(high)


def test_factors_are_named_in_the_specifications_order_and_unknowns_said() -> None:
    result = htn_high_risk(
        HtnHighRiskInput(age=60, sex="female", sbp_mmHg=134, dbp_mmHg=80, bmi=29.2)
    )
    assert result.category == "高危人群"
    assert result.factors == [
        "正常高值血压（134/80 mmHg）",
        "肥胖（BMI 29.2）",
        "年龄 60 岁（≥55 岁）",
    ]
    assert result.unknown == ["高血压家族史", "饮食摄盐情况", "饮酒量"]
    assert "至少每半年测量1次血压" in result.explanation
    assert result.warnings == ("未记录：高血压家族史、饮食摄盐情况、饮酒量，按不具备计。",)


def test_a_reading_of_140_90_or_more_asks_for_a_recheck_and_a_patient_is_not_classed() -> None:
    result = htn_high_risk(HtnHighRiskInput(**{**NONE_OF_THEM, "sbp_mmHg": 150}))
    assert result.category == "非高危人群"  # not high-normal; a recheck decides
    assert "非同日复测" in result.warnings[0]
    patient = htn_high_risk(HtnHighRiskInput(age=50, sex="male", hypertension=True))
    assert (patient.category, patient.factors) == ("不适用", [])


def test_the_screening_is_for_residents_aged_35_and_over() -> None:
    """REFERENCE §1.1: residents aged 35 or older are screened."""
    with pytest.raises(InputError, match="age"):
        HtnHighRiskInput(age=34.9, sex="male")
    assert htn_high_risk(HtnHighRiskInput(**{**NONE_OF_THEM, "age": 35})).category == "非高危人群"


@pytest.mark.parametrize(("sbp", "dbp"), [(150, 87), (135, 95)])
def test_a_reading_with_one_pressure_in_the_hypertensive_range_is_not_high_normal(
    sbp: float, dbp: float
) -> None:
    """The BP grades count the higher of the pair: 150/87 and 135/95 are grade 1 hypertension,
    not high-normal (they were named 正常高值血压 and made the person high-risk, where 150/80
    was not): a recheck on another day decides, as for any reading of 140/90 or more."""
    result = htn_high_risk(HtnHighRiskInput(**{**NONE_OF_THEM, "sbp_mmHg": sbp, "dbp_mmHg": dbp}))
    assert (result.category, result.factors) == ("非高危人群", [])
    assert "非同日复测" in result.warnings[0]

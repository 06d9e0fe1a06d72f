"""BP grade (2018 Chinese guideline) and BMI class (WS/T 428-2013): REFERENCE.md §4.1."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from careloop.rules.risk.base import InputError
from careloop.rules.risk.blood_pressure import BpInput, bp_grade
from careloop.rules.risk.bmi import BmiInput, bmi_class, classify_bmi
from careloop.rules.risk.waist import WaistInput, waist_class


@pytest.mark.parametrize(
    ("sbp", "dbp", "category", "isolated"),
    [
        (119, 79, "正常血压", False),
        (120, 79, "正常高值", False),
        (119, 80, "正常高值", False),
        (130, 85, "正常高值", False),
        (139, 89, "正常高值", False),
        (140, 88, "1级高血压", True),  # SBP ≥140 and DBP <90: isolated systolic
        (139, 90, "1级高血压", False),
        (159, 99, "1级高血压", False),
        (160, 90, "2级高血压", False),  # DBP 90 is not <90
        (160, 89, "2级高血压", True),
        (179, 109, "2级高血压", False),
        (150, 105, "2级高血压", False),  # different grades: the higher (DBP) counts
        (180, 80, "3级高血压", True),
        (125, 110, "3级高血压", False),
        (200, 120, "3级高血压", False),
    ],
)
def test_bp_grades_off_treatment(sbp: float, dbp: float, category: str, isolated: bool) -> None:
    result = bp_grade(BpInput(sbp_mmHg=sbp, dbp_mmHg=dbp, on_antihypertensive=False))
    assert result.category == category
    assert result.isolated_systolic_hypertension is isolated
    assert result.hypertension is (sbp >= 140 or dbp >= 90)


@pytest.mark.parametrize("treated", [False, True])
def test_140_88_is_grade_1_isolated_systolic_on_or_off_treatment(treated: bool) -> None:
    result = bp_grade(BpInput(sbp_mmHg=140, dbp_mmHg=88, on_antihypertensive=treated))
    assert result.category == "1级高血压"
    assert result.isolated_systolic_hypertension is True
    assert result.hypertension is True


def test_130_85_is_high_normal() -> None:
    result = bp_grade(BpInput(sbp_mmHg=130, dbp_mmHg=85, on_antihypertensive=False))
    assert result.category == "正常高值"
    assert result.hypertension is False


def test_a_treated_patient_below_140_90_is_still_hypertensive() -> None:
    # REFERENCE §4.1: "a treated patient below 140/90 is still hypertensive".
    off = bp_grade(BpInput(sbp_mmHg=138, dbp_mmHg=88, on_antihypertensive=False))
    on = bp_grade(BpInput(sbp_mmHg=138, dbp_mmHg=88, on_antihypertensive=True))
    assert off.category == on.category == "正常高值"
    assert (off.hypertension, on.hypertension) == (False, True)
    assert "仍应诊断为高血压" in on.explanation


def test_the_explanation_names_the_grade_that_wins() -> None:
    result = bp_grade(BpInput(sbp_mmHg=150, dbp_mmHg=105, on_antihypertensive=False))
    assert "较高者" in result.explanation and "2级高血压" in result.explanation


@pytest.mark.parametrize(
    ("field", "value"),
    # the last two: a diastolic not below the systolic of 120 (swapped or mistyped)
    [("sbp_mmHg", -120), ("dbp_mmHg", 0), ("sbp_mmHg", 400), ("dbp_mmHg", 120), ("dbp_mmHg", 180)],
)
def test_impossible_bp_is_refused(field: str, value: float) -> None:
    values = {"sbp_mmHg": 120.0, "dbp_mmHg": 80.0, field: value}
    with pytest.raises(InputError) as error:
        BpInput(on_antihypertensive=False, **values)
    assert error.value.field == field


@given(sbp=st.integers(60, 260), dbp=st.integers(30, 160), extra=st.integers(0, 40))
def test_a_higher_reading_never_grades_lower(sbp: int, dbp: int, extra: int) -> None:
    assume(dbp < sbp)  # a diastolic at or above the systolic is refused (above)
    order = ["正常血压", "正常高值", "1级高血压", "2级高血压", "3级高血压"]
    low = bp_grade(BpInput(sbp_mmHg=sbp, dbp_mmHg=dbp, on_antihypertensive=False))
    high = bp_grade(BpInput(sbp_mmHg=sbp + extra, dbp_mmHg=dbp, on_antihypertensive=False))
    assert order.index(high.category) >= order.index(low.category)


@pytest.mark.parametrize(
    ("bmi", "category"),
    [
        (18.4, "体重过低"),
        (18.5, "正常"),
        (23.9, "正常"),
        (24.0, "超重"),
        (27.9, "超重"),
        (28.0, "肥胖"),
        (35.0, "肥胖"),
    ],
)
def test_bmi_class_edges(bmi: float, category: str) -> None:
    # WS/T 428-2013: <18.5 / 18.5–<24.0 / 24.0–<28.0 / ≥28.0
    assert classify_bmi(bmi) == category


@pytest.mark.parametrize(
    ("height", "weight", "bmi", "category"),
    [
        # 1.70 m squared is 2.89 m²; weight = BMI × 2.89 (worked by hand).
        (170, 53.465, 18.5, "正常"),  # 18.5 × 2.89 = 53.465
        (170, 53.1, 18.4, "体重过低"),  # 53.1 ÷ 2.89 = 18.37
        (170, 69.071, 23.9, "正常"),  # 23.9 × 2.89 = 69.071
        (170, 69.36, 24.0, "超重"),  # 24.0 × 2.89 = 69.36
        (170, 80.92, 28.0, "肥胖"),  # 28.0 × 2.89 = 80.92
        (170, 80.6, 27.9, "超重"),  # 80.6 ÷ 2.89 = 27.89
        (100, 24, 24.0, "超重"),  # 24 ÷ 1.00² = 24.0
        (160, 60, 23.4, "正常"),  # 60 ÷ 2.56 = 23.44
    ],
)
def test_bmi_from_height_and_weight(
    height: float, weight: float, bmi: float, category: str
) -> None:
    result = bmi_class(BmiInput(height_cm=height, weight_kg=weight))
    assert (result.bmi, result.category) == (bmi, category)
    assert f"{bmi:.1f}" in result.explanation and category in result.explanation


@pytest.mark.parametrize(
    ("height", "weight", "bmi", "category"),
    [
        # Exactly half-way values (worked by hand), rounded half up like any other BMI:
        (160, 60.8, 23.8, "正常"),  # 60.8 ÷ 2.56 = 23.75
        (160, 35.2, 13.8, "体重过低"),  # 35.2 ÷ 2.56 = 13.75
        (184, 105.8, 31.3, "肥胖"),  # 105.8 ÷ 3.3856 = 31.25
        (187, 83.750755, 24.0, "超重"),  # 23.95 × 3.4969 = 83.750755
        (186, 63.82962, 18.5, "正常"),  # 18.45 × 3.4596 = 63.82962
    ],
)
def test_a_bmi_exactly_half_way_rounds_up(
    height: float, weight: float, bmi: float, category: str
) -> None:
    result = bmi_class(BmiInput(height_cm=height, weight_kg=weight))
    assert (result.bmi, result.category) == (bmi, category)


def test_the_shown_bmi_is_the_one_classified() -> None:
    # 69.2444 kg at 1.70 m is 23.96, shown as 24.0 (one decimal, half up): 超重, so the number
    # a nurse reads agrees with its class.
    result = bmi_class(BmiInput(height_cm=170, weight_kg=69.2444))
    assert (result.bmi, result.category) == (24.0, "超重")


@pytest.mark.parametrize(
    ("field", "value"), [("height_cm", 0), ("weight_kg", -3), ("height_cm", 400)]
)
def test_impossible_height_or_weight_is_refused(field: str, value: float) -> None:
    values = {"height_cm": 170.0, "weight_kg": 60.0, field: value}
    with pytest.raises(InputError) as error:
        BmiInput(**values)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("sbp", "dbp", "category", "hypertension", "isolated"),
    [
        (129, 79, "正常血压", False, False),
        (130, 79, "1级高血压", True, True),
        (125, 80, "1级高血压", True, False),
        (139, 89, "1级高血压", True, False),
        (140, 85, "2级高血压", True, False),
        (140, 75, "2级高血压", True, True),
        (135, 90, "2级高血压", True, False),
        (185, 115, "2级高血压", True, False),  # two grades only
    ],
)
def test_the_2022_standard_grades_from_130_80(
    sbp: float, dbp: float, category: str, hypertension: bool, isolated: bool
) -> None:
    result = bp_grade(
        BpInput(sbp_mmHg=sbp, dbp_mmHg=dbp, on_antihypertensive=False, standard="2022")
    )
    assert (result.category, result.hypertension) == (category, hypertension)
    assert result.isolated_systolic_hypertension is isolated
    assert "2022" in result.explanation
    # the default stays the 2018 guideline, which BPHS uses
    assert bp_grade(BpInput(sbp_mmHg=135, dbp_mmHg=85, on_antihypertensive=False)).category == (
        "正常高值"
    )


@pytest.mark.parametrize(
    ("sex", "waist", "category"),
    [
        ("male", 84.9, "正常"),
        ("male", 85, "中心型肥胖前期"),
        ("male", 89.9, "中心型肥胖前期"),
        ("male", 90, "中心型肥胖"),
        ("female", 79.9, "正常"),
        ("female", 80, "中心型肥胖前期"),
        ("female", 84.9, "中心型肥胖前期"),
        ("female", 85, "中心型肥胖"),
    ],
)
def test_waist_classes_by_sex(sex: str, waist: float, category: str) -> None:
    result = waist_class(WaistInput(sex=sex, waist_cm=waist))  # type: ignore[arg-type]
    assert result.category == category
    assert category in result.explanation

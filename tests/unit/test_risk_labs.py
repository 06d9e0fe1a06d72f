"""eGFR and CKD stage (REFERENCE.md §4.4), glucose category (§4.2), lipid categories (§4.3).

REFERENCE has no worked eGFR example: the expected values are the §4.4 equations worked by hand
with creatinine chosen at whole mg/dL fractions (µmol/L = mg/dL × 88.4), shown in each comment.
"""

from __future__ import annotations

import pytest

from careloop.rules.risk.base import InputError
from careloop.rules.risk.egfr import EgfrInput, egfr_stage, stage
from careloop.rules.risk.glucose import GlucoseInput, glucose_category
from careloop.rules.risk.lipids import LipidInput, lipid_categories


@pytest.mark.parametrize(
    ("age", "sex", "creatinine", "egfr_2021", "egfr_2009", "category"),
    [
        # Man, 0.9 mg/dL = κ, so both min/max terms are 1:
        # 2021: 142 × 0.9938^50 = 104.05 → 104; 2009: 141 × 0.993^50 = 99.24 → 99.
        (50, "male", 79.56, 104, 99, "G1"),
        # Woman, 0.7 mg/dL = κ:
        # 2021: 142 × 0.9938^60 × 1.012 = 98.95 → 99; 2009: 141 × 0.993^60 × 1.018 = 94.17 → 94.
        (60, "female", 61.88, 99, 94, "G1"),
        # Man, 2.0 mg/dL, Scr/κ = 2.222:
        # 2021: 142 × 2.222^−1.200 × 0.9938^70 = 35.24 → 35 (G3b);
        # 2009: 141 × 2.222^−1.209 × 0.993^70 = 32.84 → 33.
        (70, "male", 176.8, 35, 33, "G3b"),
        # Woman, 0.5 mg/dL, Scr/κ = 0.714 (below κ, exponent α):
        # 2021: 142 × 0.714^−0.241 × 0.9938^40 × 1.012 = 121.52 → 122;
        # 2009: 141 × 0.714^−0.329 × 0.993^40 × 1.018 = 121.06 → 121.
        (40, "female", 44.2, 122, 121, "G1"),
        # Man, 5.0 mg/dL: 2021: 142 × 5.556^−1.200 × 0.9938^65 = 12.11 → 12 (G5);
        # 2009: 141 × 5.556^−1.209 × 0.993^65 = 11.23 → 11.
        (65, "male", 442, 12, 11, "G5"),
    ],
)
def test_egfr_by_both_equations(
    age: float, sex: str, creatinine: float, egfr_2021: int, egfr_2009: int, category: str
) -> None:
    result = egfr_stage(EgfrInput(age=age, sex=sex, creatinine_umol_L=creatinine))  # type: ignore[arg-type]
    assert (result.egfr_ckd_epi_2021, result.egfr_ckd_epi_2009) == (egfr_2021, egfr_2009)
    assert result.category == category
    assert "CKD-EPI 2021" in result.explanation and category in result.explanation


@pytest.mark.parametrize(
    ("egfr", "category"),
    [
        (120, "G1"),
        (90, "G1"),
        (89, "G2"),
        (60, "G2"),
        (59, "G3a"),
        (45, "G3a"),
        (44, "G3b"),
        (30, "G3b"),
        (29, "G4"),
        (15, "G4"),
        (14, "G5"),
        (0, "G5"),
    ],
)
def test_ckd_stage_bounds(egfr: int, category: str) -> None:
    # KDIGO (REFERENCE §4.4): G1 ≥90, G2 60–89, G3a 45–59, G3b 30–44, G4 15–29, G5 <15.
    assert stage(egfr) == category


def test_the_2009_value_is_staged_on_its_own() -> None:
    # Woman 40, 0.5 mg/dL gives 122/121: both G1; a man at 2.0 mg/dL gives 35/33: both G3b.
    result = egfr_stage(EgfrInput(age=70, sex="male", creatinine_umol_L=176.8))
    assert result.category_ckd_epi_2009 == "G3b"


@pytest.mark.parametrize(("field", "value"), [("age", 17), ("age", 300), ("creatinine_umol_L", -5)])
def test_egfr_refuses_impossible_inputs(field: str, value: float) -> None:
    values = {"age": 50.0, "creatinine_umol_L": 80.0, field: value}
    with pytest.raises(InputError) as error:
        EgfrInput(sex="male", **values)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("fpg", "ogtt", "category"),
    [
        (3.9, None, "normal"),
        (6.0, None, "normal"),
        (6.1, None, "IFG"),
        (6.9, None, "IFG"),
        (7.0, None, "diabetes"),
        (None, 7.7, "normal"),
        (None, 7.8, "IGT"),
        (None, 11.0, "IGT"),
        (None, 11.1, "diabetes"),
        (5.0, 7.7, "normal"),
        (6.0, 7.8, "IGT"),
        (6.1, 7.7, "IFG"),
        (6.1, 7.8, "IGT"),  # the table's IGT row: FPG <7.0
        (6.9, 11.0, "IGT"),
        (7.0, 5.0, "diabetes"),
        (5.0, 11.1, "diabetes"),
    ],
)
def test_glucose_categories(fpg: float | None, ogtt: float | None, category: str) -> None:
    # REFERENCE §4.2: normal FPG <6.1 and 2-h <7.8; IFG 6.1–<7.0; IGT 2-h 7.8–<11.1;
    # diabetes range FPG ≥7.0 or 2-h ≥11.1.
    result = glucose_category(GlucoseInput(fpg=fpg, ogtt_2h=ogtt))
    assert result.glucose_category == category
    assert result.hba1c_ge_6_5 is None


def test_fpg_alone_warns_that_igt_is_not_excluded() -> None:
    result = glucose_category(GlucoseInput(fpg=5.0))
    assert result.glucose_category == "normal"
    assert any("OGTT" in warning for warning in result.warnings)


@pytest.mark.parametrize(("hba1c", "high"), [(6.4, False), (6.5, True), (8.0, True)])
def test_hba1c_6_5_is_reported_on_its_own(hba1c: float, high: bool) -> None:
    result = glucose_category(GlucoseInput(hba1c_percent=hba1c))
    assert result.hba1c_ge_6_5 is high
    assert result.glucose_category is None


def test_glucose_needs_at_least_one_value() -> None:
    with pytest.raises(InputError) as error:
        GlucoseInput()
    assert error.value.field == "fpg"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (dict(tc=5.19), {"tc": "合适水平"}),
        (dict(tc=5.2), {"tc": "边缘升高"}),
        (dict(tc=6.19), {"tc": "边缘升高"}),
        (dict(tc=6.2), {"tc": "升高"}),
        (dict(ldl_c=2.59), {"ldl_c": "理想水平"}),
        (dict(ldl_c=2.6), {"ldl_c": "合适水平"}),
        (dict(ldl_c=3.4), {"ldl_c": "边缘升高"}),
        (dict(ldl_c=4.09), {"ldl_c": "边缘升高"}),
        (dict(ldl_c=4.1), {"ldl_c": "升高"}),
        (dict(hdl_c=0.99), {"hdl_c": "降低"}),
        (dict(hdl_c=1.0), {"hdl_c": "正常"}),
        (dict(tg=1.69), {"tg": "合适水平"}),
        (dict(tg=1.7), {"tg": "边缘升高"}),
        (dict(tg=2.3), {"tg": "升高"}),
        # non-HDL-C = TC − HDL-C: 4.5 − 1.2 = 3.3 理想; 4.5 − 1.1 = 3.4 合适;
        # 5.0 − 0.9 = 4.1 边缘升高 (exactly, in decimal); 6.0 − 1.1 = 4.9 升高.
        (dict(tc=4.5, hdl_c=1.2), {"non_hdl_c": "理想水平", "non_hdl_c_value": 3.3}),
        (dict(tc=4.5, hdl_c=1.1), {"non_hdl_c": "合适水平", "non_hdl_c_value": 3.4}),
        (dict(tc=5.0, hdl_c=0.9), {"non_hdl_c": "边缘升高", "non_hdl_c_value": 4.1}),
        (dict(tc=6.0, hdl_c=1.1), {"non_hdl_c": "升高", "non_hdl_c_value": 4.9}),
    ],
)
def test_lipid_category_edges(values: dict[str, float], expected: dict[str, object]) -> None:
    # REFERENCE §4.3 (中国成人血脂异常防治指南 2016).
    outputs = lipid_categories(LipidInput(**values)).outputs()
    for key, value in expected.items():
        assert outputs[key] == value, key


def test_a_full_panel_gets_every_category_and_missing_ones_are_null() -> None:
    full = lipid_categories(LipidInput(tc=6.5, ldl_c=4.2, hdl_c=0.9, tg=2.5))
    # non-HDL 6.5 − 0.9 = 5.6 ≥4.9
    assert full.outputs() == {
        "tc": "升高",
        "ldl_c": "升高",
        "tg": "升高",
        "non_hdl_c": "升高",
        "hdl_c": "降低",
        "non_hdl_c_value": 5.6,
    }
    partial = lipid_categories(LipidInput(ldl_c=3.0))
    assert partial.tc is None and partial.non_hdl_c is None and partial.non_hdl_c_value is None
    assert "缺少" in partial.explanation


def test_lipids_refuse_hdl_above_tc() -> None:
    with pytest.raises(InputError) as error:
        LipidInput(tc=3.0, hdl_c=3.5)
    assert error.value.field == "hdl_c"


@pytest.mark.parametrize(("fpg", "warned"), [(1.0, True), (3.9, True), (4.0, False)])
def test_a_low_glucose_keeps_the_tables_category_and_is_warned_about(
    fpg: float, warned: bool
) -> None:
    result = glucose_category(GlucoseInput(fpg=fpg, ogtt_2h=5.0))
    assert result.glucose_category == "normal"  # the §4.2 table has no low row
    assert any("低血糖" in w for w in result.warnings) is warned


def test_a_value_converted_from_another_unit_is_explained_to_two_decimals() -> None:
    """232 mg/dL of cholesterol is 6.0088 mmol/L: the printed report said so to the patient."""
    result = lipid_categories(LipidInput(tc=232 * 0.0259, tg=1.2))
    assert "总胆固醇 6.01 mmol/L" in result.explanation and "6.0088" not in result.explanation
    assert "甘油三酯 1.2 mmol/L" in result.explanation
    glucose = glucose_category(GlucoseInput(fpg=126 * 0.0555))
    assert "6.99 mmol/L" in glucose.explanation and "6.993" not in glucose.explanation

"""Chinese Diabetes Risk Score, 中国糖尿病风险评分表 (REFERENCE.md §3.1).

The Chinese Diabetes Society table (中国2型糖尿病防治指南 2017/2020), derived from Zhou X,
Qiao Q, Ji L et al., Diabetes Care 2013;36:3944–3952: range 0–51, total ≥25 → screen with an
OGTT (or at least FPG). Scored for ages 20–74 without known diabetes.

Bands are read by their lower bounds: "110–119" takes 110 ≤ SBP < 120, "22.0–23.9" takes
22.0 ≤ BMI < 24.0, "75–79.9" takes 75 ≤ waist < 80, and ages are completed years, so 74.9
is still "65–74".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import (
    SEX_LABELS,
    ModelResult,
    band,
    check_below,
    check_number,
    fmt,
)

Sex = Literal["male", "female"]

# (lower bound, points), ascending. REFERENCE §3.1 table.
AGE_POINTS = (
    (20, 0),
    (25, 4),
    (35, 8),
    (40, 11),
    (45, 12),
    (50, 13),
    (55, 15),
    (60, 16),
    (65, 18),
)
SBP_POINTS = ((0, 0), (110, 1), (120, 3), (130, 6), (140, 7), (150, 8), (160, 10))
BMI_POINTS = ((0, 0), (22.0, 1), (24.0, 3), (30.0, 5))
WAIST_POINTS_MEN = ((0, 0), (75, 3), (80, 5), (85, 7), (90, 8), (95, 10))
WAIST_POINTS_WOMEN = ((0, 0), (70, 3), (75, 5), (80, 7), (85, 8), (90, 10))
FAMILY_HISTORY_POINTS = 6  # parents, siblings or children with diabetes
MALE_POINTS = 2
HIGH_RISK_FROM = 25  # total ≥25 → OGTT
MAX_TOTAL = 51

AGES = (20, 75)  # 20–74 completed years


@dataclass(frozen=True, kw_only=True)
class CdrsInput:
    age: float  # years, 20–74
    sex: Sex
    sbp_mmHg: float
    bmi: float
    waist_cm: float
    family_history_diabetes: bool

    def __post_init__(self) -> None:
        check_below("age", self.age, *AGES, "years (the score is for ages 20–74)")
        check_number("sbp_mmHg", self.sbp_mmHg, 50, 300, "mmHg")
        check_number("bmi", self.bmi, 10, 80, "kg/m²")
        check_number("waist_cm", self.waist_cm, 30, 250, "cm")


@dataclass(frozen=True, kw_only=True)
class CdrsResult(ModelResult):
    MODEL = "cdrs"
    VERSION = "cdrs/cds-guideline-zhou2013/1"

    total: int  # 0–51
    high_risk: bool  # total ≥ 25
    points: dict[str, int]  # per item, so a nurse can see where the total comes from


def cdrs_score(inputs: CdrsInput) -> CdrsResult:
    """Sum the six items of the §3.1 table."""
    waist_points = WAIST_POINTS_MEN if inputs.sex == "male" else WAIST_POINTS_WOMEN
    points = {
        "age": band(inputs.age, AGE_POINTS),
        "sbp": band(inputs.sbp_mmHg, SBP_POINTS),
        "bmi": band(inputs.bmi, BMI_POINTS),
        "waist": band(inputs.waist_cm, waist_points),
        "family_history": FAMILY_HISTORY_POINTS if inputs.family_history_diabetes else 0,
        "sex": MALE_POINTS if inputs.sex == "male" else 0,
    }
    total = sum(points.values())
    high_risk = total >= HIGH_RISK_FROM
    advice = (
        f"总分≥{HIGH_RISK_FROM}分，属糖尿病高风险，建议做口服葡萄糖耐量试验（OGTT），至少查空腹血糖。"
        if high_risk
        else f"总分<{HIGH_RISK_FROM}分，暂不属于糖尿病高风险，保持健康生活方式，定期复评。"
    )
    explanation = (
        f"中国糖尿病风险评分：年龄{fmt(inputs.age)}岁得{points['age']}分，"
        f"收缩压{fmt(inputs.sbp_mmHg)} mmHg得{points['sbp']}分，"
        f"BMI {fmt(inputs.bmi)}得{points['bmi']}分，"
        f"腰围{fmt(inputs.waist_cm)} cm得{points['waist']}分，"
        f"{'有' if inputs.family_history_diabetes else '无'}糖尿病家族史得"
        f"{points['family_history']}分，{SEX_LABELS[inputs.sex]}性得{points['sex']}分，"
        f"合计{total}分（满分{MAX_TOTAL}分）。{advice}已确诊糖尿病者不适用本评分。"
    )
    return CdrsResult(
        inputs=inputs, total=total, high_risk=high_risk, points=points, explanation=explanation
    )

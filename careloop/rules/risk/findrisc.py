"""FINDRISC, the Finnish Diabetes Risk Score (REFERENCE.md §3.2).

Lindström J, Tuomilehto J. Diabetes Care 2003;26:725–731. Total 0–26 in five bands. The point
values are REFERENCE's (medium confidence, to be checked against the original form, §6); the
bands are confirmed. FINDRISC uses European BMI and waist cut-offs: for Chinese users prefer
CDRS (``cdrs``).

Boundaries as the form prints them: BMI "25–30" includes 30 and ">30" starts above it; waist
"94–102" includes 102; ages are completed years ("45–54" takes 45 ≤ age < 55, ">64" ≥ 65).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import SEX_LABELS, ModelResult, band, check_number, fmt

Sex = Literal["male", "female"]
FamilyHistory = Literal["none", "second_degree", "first_degree"]

AGE_POINTS = ((0, 0), (45, 2), (55, 3), (65, 4))  # <45 / 45–54 / 55–64 / >64
BMI_LOW_UP_TO = 25.0  # <25 → 0
BMI_MIDDLE_UP_TO = 30.0  # 25–30 → 1, >30 → 3
BMI_POINTS = (0, 1, 3)
# (first band below, second band up to and including): <94 / 94–102 / >102 for men.
WAIST_BANDS = {"male": (94.0, 102.0), "female": (80.0, 88.0)}
WAIST_POINTS = (0, 3, 4)
INACTIVE_POINTS = 2  # not 30 min of physical activity daily
NO_VEGETABLES_POINTS = 1  # not vegetables, fruit or berries every day
ANTIHYPERTENSIVE_POINTS = 2
HIGH_GLUCOSE_POINTS = 5
FAMILY_POINTS = {"none": 0, "second_degree": 3, "first_degree": 5}
MAX_TOTAL = 26

# (lowest total, category, Chinese label, approximate 10-year risk)
CATEGORIES = (
    (0, "low", "低", "约1/100"),
    (7, "slightly_elevated", "轻度升高", "约1/25"),
    (12, "moderate", "中度", "约1/6"),
    (15, "high", "高", "约1/3"),
    (21, "very_high", "很高", "约1/2"),
)


@dataclass(frozen=True, kw_only=True)
class FindriscInput:
    age: float  # years, adults
    sex: Sex
    bmi: float
    waist_cm: float
    physical_activity_30min_daily: bool
    vegetables_fruit_daily: bool
    antihypertensive_medication: bool  # ever taken regularly
    history_high_glucose: bool  # ever found high (exam, illness, pregnancy)
    family_history: FamilyHistory  # diabetes: second_degree = grandparent, aunt, uncle, cousin

    def __post_init__(self) -> None:
        check_number("age", self.age, 18, 120, "years")
        check_number("bmi", self.bmi, 10, 80, "kg/m²")
        check_number("waist_cm", self.waist_cm, 30, 250, "cm")


@dataclass(frozen=True, kw_only=True)
class FindriscResult(ModelResult):
    MODEL = "findrisc"
    VERSION = "findrisc/lindstrom2003/1"

    total: int  # 0–26
    category: str  # low / slightly_elevated / moderate / high / very_high
    points: dict[str, int]


def _bmi_points(bmi: float) -> int:
    if bmi < BMI_LOW_UP_TO:
        return BMI_POINTS[0]
    if bmi <= BMI_MIDDLE_UP_TO:
        return BMI_POINTS[1]
    return BMI_POINTS[2]


def _waist_points(sex: Sex, waist_cm: float) -> int:
    below, up_to = WAIST_BANDS[sex]
    if waist_cm < below:
        return WAIST_POINTS[0]
    if waist_cm <= up_to:
        return WAIST_POINTS[1]
    return WAIST_POINTS[2]


def findrisc_score(inputs: FindriscInput) -> FindriscResult:
    """Sum the eight FINDRISC items and band the total (§3.2)."""
    points = {
        "age": band(inputs.age, AGE_POINTS),
        "bmi": _bmi_points(inputs.bmi),
        "waist": _waist_points(inputs.sex, inputs.waist_cm),
        "physical_activity": 0 if inputs.physical_activity_30min_daily else INACTIVE_POINTS,
        "vegetables_fruit": 0 if inputs.vegetables_fruit_daily else NO_VEGETABLES_POINTS,
        "antihypertensive": ANTIHYPERTENSIVE_POINTS if inputs.antihypertensive_medication else 0,
        "high_glucose": HIGH_GLUCOSE_POINTS if inputs.history_high_glucose else 0,
        "family_history": FAMILY_POINTS[inputs.family_history],
    }
    total = sum(points.values())
    _, category, label, risk = band(total, [(row[0], row) for row in CATEGORIES])
    family_text = {
        "none": "无糖尿病家族史",
        "second_degree": "二级亲属（祖父母、叔伯姑姨、堂表兄弟姐妹）有糖尿病",
        "first_degree": "一级亲属（父母、兄弟姐妹、子女）有糖尿病",
    }[inputs.family_history]
    explanation = (
        f"FINDRISC芬兰糖尿病风险评分：{SEX_LABELS[inputs.sex]}性，年龄{fmt(inputs.age)}岁得"
        f"{points['age']}分，BMI {fmt(inputs.bmi)}得{points['bmi']}分，"
        f"腰围{fmt(inputs.waist_cm)} cm得{points['waist']}分，"
        f"{'每天' if inputs.physical_activity_30min_daily else '并非每天'}运动30分钟得"
        f"{points['physical_activity']}分，"
        f"{'每天' if inputs.vegetables_fruit_daily else '并非每天'}吃蔬菜水果得"
        f"{points['vegetables_fruit']}分，"
        f"{'曾' if inputs.antihypertensive_medication else '未'}规律服用降压药得"
        f"{points['antihypertensive']}分，"
        f"{'曾' if inputs.history_high_glucose else '未'}发现血糖升高得"
        f"{points['high_glucose']}分，{family_text}得{points['family_history']}分，"
        f"合计{total}分（满分{MAX_TOTAL}分），属{label}风险，10年内发生2型糖尿病的风险{risk}。"
        "该评分使用欧洲人群的BMI和腰围切点，中国人群优先使用中国糖尿病风险评分。"
    )
    return FindriscResult(
        inputs=inputs, total=total, category=category, points=points, explanation=explanation
    )

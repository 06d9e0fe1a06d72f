"""Body-mass index and its Chinese adult class (REFERENCE.md §4.1).

WS/T 428-2013 and the 2019 Chinese CVD guideline: <18.5 体重过低; 18.5 ≤ BMI < 24.0 正常;
24.0 ≤ BMI < 28.0 超重; ≥28.0 肥胖. BMI is reported to one decimal (rounded half up) and the
reported value is classed, so the number a nurse sees always agrees with its class
(23.96 is shown as 24.0 and is 超重).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from careloop.rules.risk.base import ModelResult, band, check_number, fmt

UNDERWEIGHT, NORMAL, OVERWEIGHT, OBESE = "体重过低", "正常", "超重", "肥胖"
# (lower bound, class), ascending. WS/T 428-2013.
CLASSES = ((0, UNDERWEIGHT), (18.5, NORMAL), (24.0, OVERWEIGHT), (28.0, OBESE))
RANGE_TEXT = {
    UNDERWEIGHT: "低于18.5",
    NORMAL: "在18.5–23.9之间",
    OVERWEIGHT: "在24.0–27.9之间",
    OBESE: "达到或超过28.0",
}


@dataclass(frozen=True, kw_only=True)
class BmiInput:
    height_cm: float
    weight_kg: float

    def __post_init__(self) -> None:
        check_number("height_cm", self.height_cm, 50, 250, "cm")
        check_number("weight_kg", self.weight_kg, 2, 500, "kg")


@dataclass(frozen=True, kw_only=True)
class BmiResult(ModelResult):
    MODEL = "bmi"
    VERSION = "bmi/wst428-2013/1"

    bmi: float  # kg/m², one decimal
    category: str  # 体重过低 / 正常 / 超重 / 肥胖


def bmi_value(height_cm: float, weight_kg: float) -> float:
    """weight (kg) ÷ height (m)², to one decimal, half up. Worked in decimal on the numbers
    as written: in binary floating point 60.8 kg at 160 cm is 23.7499…, not 23.75, and
    would round down."""
    height_m = Decimal(repr(height_cm)) / 100
    bmi = Decimal(repr(weight_kg)) / (height_m * height_m)
    return float(bmi.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def classify_bmi(bmi: float) -> str:
    """The WS/T 428-2013 class of a BMI (already at one decimal)."""
    return str(band(bmi, CLASSES))


def bmi_class(inputs: BmiInput) -> BmiResult:
    bmi = bmi_value(inputs.height_cm, inputs.weight_kg)
    category = classify_bmi(bmi)
    explanation = (
        f"身高{fmt(inputs.height_cm)} cm、体重{fmt(inputs.weight_kg)} kg，"
        f"BMI = 体重(kg) ÷ 身高(m)² = {bmi:.1f}，{RANGE_TEXT[category]}，"
        f"按中国成人标准（WS/T 428-2013）属{category}。"
    )
    return BmiResult(inputs=inputs, bmi=bmi, category=category, explanation=explanation)

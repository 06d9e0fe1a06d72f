"""Waist circumference and central obesity in Chinese adults (REFERENCE.md §4.1).

WS/T 428-2013 and the 2019 Chinese CVD guideline, waist at the umbilicus by tape (LOINC
8280-0): normal below 85 cm (men) / 80 cm (women); 中心型肥胖前期 85–<90 / 80–<85;
中心型肥胖 ≥90 / ≥85.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import SEX_LABELS, ModelResult, band, check_number, fmt

NORMAL, PRE_CENTRAL, CENTRAL = "正常", "中心型肥胖前期", "中心型肥胖"
# sex → (lower bound in cm, class), ascending
CLASSES = {
    "male": ((0, NORMAL), (85, PRE_CENTRAL), (90, CENTRAL)),
    "female": ((0, NORMAL), (80, PRE_CENTRAL), (85, CENTRAL)),
}


@dataclass(frozen=True, kw_only=True)
class WaistInput:
    sex: Literal["male", "female"]
    waist_cm: float

    def __post_init__(self) -> None:
        check_number("waist_cm", self.waist_cm, 30, 250, "cm")


@dataclass(frozen=True, kw_only=True)
class WaistResult(ModelResult):
    MODEL = "waist"
    VERSION = "waist/wst428-2013/1"

    category: str  # 正常 / 中心型肥胖前期 / 中心型肥胖


def waist_class(inputs: WaistInput) -> WaistResult:
    bands = CLASSES[inputs.sex]
    category = str(band(inputs.waist_cm, bands))
    pre, central = fmt(bands[1][0]), fmt(bands[2][0])
    explanation = (
        f"{SEX_LABELS[inputs.sex]}性腰围{fmt(inputs.waist_cm)} cm；"
        "按中国成人标准（WS/T 428-2013），"
        f"<{pre} cm为正常，{pre}–<{central} cm为中心型肥胖前期，≥{central} cm为中心型肥胖，"
        f"属{category}。"
    )
    return WaistResult(inputs=inputs, category=category, explanation=explanation)

"""Lipid categories for ASCVD primary prevention, 中国成人血脂异常防治指南 (2016)
(REFERENCE.md §4.3). mmol/L.

| | 理想水平 | 合适水平 | 边缘升高 | 升高 | 降低 |
|---|---|---|---|---|---|
| TC | | <5.2 | 5.2–<6.2 | ≥6.2 | |
| LDL-C | <2.6 | <3.4 | 3.4–<4.1 | ≥4.1 | |
| non-HDL-C | <3.4 | <4.1 | 4.1–<4.9 | ≥4.9 | |
| TG | | <1.7 | 1.7–<2.3 | ≥2.3 | |
| HDL-C | | | | | <1.0 |

non-HDL-C = TC − HDL-C, computed in decimal (5.0 − 0.9 is exactly 4.1, not 4.0999…) and
reported to two decimals. Every value is optional (absent or null); a category whose inputs are
missing is null. At least one value is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from careloop.rules.risk.base import InputError, ModelResult, band, check_number, fmt

IDEAL, DESIRABLE, BORDERLINE, HIGH = "理想水平", "合适水平", "边缘升高", "升高"
LOW, NORMAL = "降低", "正常"

# (lower bound, category), ascending.
TC_BANDS = ((0, DESIRABLE), (5.2, BORDERLINE), (6.2, HIGH))
LDL_BANDS = ((0, IDEAL), (2.6, DESIRABLE), (3.4, BORDERLINE), (4.1, HIGH))
NON_HDL_BANDS = ((0, IDEAL), (3.4, DESIRABLE), (4.1, BORDERLINE), (4.9, HIGH))
TG_BANDS = ((0, DESIRABLE), (1.7, BORDERLINE), (2.3, HIGH))
HDL_LOW_BELOW = 1.0

NAMES = {"tc": "总胆固醇", "ldl_c": "LDL-C", "hdl_c": "HDL-C", "tg": "甘油三酯"}


@dataclass(frozen=True, kw_only=True)
class LipidInput:
    tc: float | None = None
    ldl_c: float | None = None
    hdl_c: float | None = None
    tg: float | None = None

    def __post_init__(self) -> None:
        values = {"tc": self.tc, "ldl_c": self.ldl_c, "hdl_c": self.hdl_c, "tg": self.tg}
        if all(value is None for value in values.values()):
            raise InputError("tc", "(or ldl_c, hdl_c, tg) is required: give at least one")
        for name, value in values.items():
            if value is not None:
                check_number(name, value, 0.01, 100 if name == "tg" else 30, "mmol/L")
        if self.tc is not None and self.hdl_c is not None and self.hdl_c >= self.tc:
            raise InputError("hdl_c", "must be lower than tc")


@dataclass(frozen=True, kw_only=True)
class LipidResult(ModelResult):
    MODEL = "lipids"
    VERSION = "lipids/chn-dyslipidaemia-guideline-2016/1"

    tc: str | None
    ldl_c: str | None
    tg: str | None
    non_hdl_c: str | None
    hdl_c: str | None  # 降低 / 正常
    non_hdl_c_value: float | None  # mmol/L, two decimals


def non_hdl(tc: float, hdl_c: float) -> Decimal:
    """TC − HDL-C on the decimal values as written, to two decimals (half up)."""
    return (Decimal(repr(tc)) - Decimal(repr(hdl_c))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def lipid_categories(inputs: LipidInput) -> LipidResult:
    def grade(value: float | Decimal | None, bands: tuple[tuple[float, str], ...]) -> str | None:
        return None if value is None else str(band(float(value), bands))

    non_hdl_value = (
        non_hdl(inputs.tc, inputs.hdl_c)
        if inputs.tc is not None and inputs.hdl_c is not None
        else None
    )
    result = {
        "tc": grade(inputs.tc, TC_BANDS),
        "ldl_c": grade(inputs.ldl_c, LDL_BANDS),
        "tg": grade(inputs.tg, TG_BANDS),
        "non_hdl_c": grade(non_hdl_value, NON_HDL_BANDS),
        "hdl_c": None
        if inputs.hdl_c is None
        else (LOW if inputs.hdl_c < HDL_LOW_BELOW else NORMAL),
    }
    parts = []
    for name in ("tc", "ldl_c", "hdl_c", "tg"):
        value = getattr(inputs, name)
        if value is not None:
            parts.append(f"{NAMES[name]} {fmt(value)} mmol/L，{result[name]}")
    if non_hdl_value is not None:
        parts.append(f"非HDL-C（总胆固醇−HDL-C）{non_hdl_value:.2f} mmol/L，{result['non_hdl_c']}")
    missing = [NAMES[name] for name in NAMES if getattr(inputs, name) is None]
    explanation = (
        "；".join(parts) + "。分层标准为《中国成人血脂异常防治指南（2016年修订版）》"
        "ASCVD一级预防人群血脂合适水平和异常切点。"
    )
    if missing:
        explanation += f"缺少{'、'.join(missing)}，相应分层无法判断。"
    return LipidResult(
        inputs=inputs,
        tc=result["tc"],
        ldl_c=result["ldl_c"],
        tg=result["tg"],
        non_hdl_c=result["non_hdl_c"],
        hdl_c=result["hdl_c"],
        non_hdl_c_value=None if non_hdl_value is None else float(non_hdl_value),
        explanation=explanation,
    )

"""Hypertension high-risk people (高血压高危人群), BPHS 3rd edition (REFERENCE.md §1.1).

Anyone with at least one of six factors is high-risk, and should have their blood pressure
measured at least every 6 months and get lifestyle advice:

1. high-normal BP: SBP 130–139 and/or DBP 85–89 mmHg (neither at 140/90 or above: the
   higher of the pair counts, as in the BP grades);
2. overweight or obese (BMI ≥ 24) and/or abdominal obesity (waist ≥ 90 cm men, ≥ 85 cm women);
3. family history of hypertension in first- or second-degree relatives;
4. long-term high-salt diet;
5. long-term heavy drinking (≥ 100 mL of spirits a day: 2 两);
6. age ≥ 55.

It is part of the screening of residents aged 35 and over (§1.1); people with diagnosed
hypertension are managed as patients instead and not classed here. A
factor whose input is not given counts as absent and is named as unknown in the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import (
    ModelResult,
    check_below,
    check_diastolic_below,
    check_number,
    fmt,
)
from careloop.rules.risk.blood_pressure import HYPERTENSION_DBP, HYPERTENSION_SBP

HIGH_RISK, NOT_HIGH_RISK, PATIENT = "高危人群", "非高危人群", "不适用"
HIGH_NORMAL_SBP, HIGH_NORMAL_DBP = (130, 140), (85, 90)  # [low, high)
OVERWEIGHT_BMI = 24
ABDOMINAL = {"male": 90, "female": 85}
HEAVY_DRINKING_ML = 100
OLDER_AGE = 55
SCREENED_FROM = 35  # residents aged 35 and over are screened (§1.1)
ADVICE = "按规范至少每半年测量1次血压，并接受生活方式指导。"


@dataclass(frozen=True, kw_only=True)
class HtnHighRiskInput:
    age: float
    sex: Literal["male", "female"]
    sbp_mmHg: float | None = None
    dbp_mmHg: float | None = None
    bmi: float | None = None
    waist_cm: float | None = None
    family_history_hypertension: bool | None = None
    high_salt_diet: bool | None = None
    spirits_ml_per_day: float | None = None
    hypertension: bool = False  # diagnosed: a patient, not classed here

    def __post_init__(self) -> None:
        check_below("age", self.age, SCREENED_FROM, 121, "years")
        if self.sbp_mmHg is not None:
            check_number("sbp_mmHg", self.sbp_mmHg, 50, 300, "mmHg")
        if self.dbp_mmHg is not None:
            check_number("dbp_mmHg", self.dbp_mmHg, 20, 200, "mmHg")
        if self.sbp_mmHg is not None and self.dbp_mmHg is not None:
            check_diastolic_below("sbp_mmHg", self.sbp_mmHg, "dbp_mmHg", self.dbp_mmHg)
        if self.bmi is not None:
            check_number("bmi", self.bmi, 10, 80)
        if self.waist_cm is not None:
            check_number("waist_cm", self.waist_cm, 30, 250, "cm")
        if self.spirits_ml_per_day is not None:
            check_number("spirits_ml_per_day", self.spirits_ml_per_day, 0, 5000, "mL")


@dataclass(frozen=True, kw_only=True)
class HtnHighRiskResult(ModelResult):
    MODEL = "htn-high-risk"
    VERSION = "htn-high-risk/bphs3-2017/1"

    category: str  # 高危人群 / 非高危人群; 不适用 for a diagnosed patient
    factors: list[str]  # the factors present, in the specification's order
    unknown: list[str]  # those whose input was not given


def _within(value: float | None, span: tuple[int, int]) -> bool:
    return value is not None and span[0] <= value < span[1]


def _hypertensive(i: HtnHighRiskInput) -> bool:
    return (i.sbp_mmHg or 0) >= HYPERTENSION_SBP or (i.dbp_mmHg or 0) >= HYPERTENSION_DBP


def _bp(i: HtnHighRiskInput) -> tuple[bool | None, str]:
    if i.sbp_mmHg is None and i.dbp_mmHg is None:
        return None, "血压"
    sbp = f"{fmt(i.sbp_mmHg)}" if i.sbp_mmHg is not None else "—"
    dbp = f"{fmt(i.dbp_mmHg)}" if i.dbp_mmHg is not None else "—"
    # High-normal, as the BP grades read a pair (the higher one counts): a reading with
    # either pressure in the hypertensive range is not high-normal (150/87 is grade 1), it
    # asks for a recheck (the warning below).
    present = not _hypertensive(i) and (
        _within(i.sbp_mmHg, HIGH_NORMAL_SBP) or _within(i.dbp_mmHg, HIGH_NORMAL_DBP)
    )
    return present, f"正常高值血压（{sbp}/{dbp} mmHg）"


def _weight(i: HtnHighRiskInput) -> tuple[bool | None, str]:
    if i.bmi is None and i.waist_cm is None:
        return None, "体重指数和腰围"
    parts = []
    if i.bmi is not None and i.bmi >= OVERWEIGHT_BMI:
        parts.append(f"{'肥胖' if i.bmi >= 28 else '超重'}（BMI {fmt(i.bmi)}）")
    if i.waist_cm is not None and i.waist_cm >= ABDOMINAL[i.sex]:
        parts.append(f"中心型肥胖（腰围 {fmt(i.waist_cm)} cm）")
    return bool(parts), "、".join(parts)


def _flag(value: bool | None, text: str, unknown: str) -> tuple[bool | None, str]:
    return (None, unknown) if value is None else (value, text)


def _checks(i: HtnHighRiskInput) -> list[tuple[bool | None, str]]:
    """Each factor in the specification's order: present, absent or unknown (None), and
    its words."""
    drinking = None if i.spirits_ml_per_day is None else i.spirits_ml_per_day >= HEAVY_DRINKING_ML
    return [
        _bp(i),
        _weight(i),
        _flag(i.family_history_hypertension, "高血压家族史（一、二级亲属）", "高血压家族史"),
        _flag(i.high_salt_diet, "长期高盐饮食", "饮食摄盐情况"),
        _flag(
            drinking,
            f"长期过量饮酒（每日白酒约 {fmt(i.spirits_ml_per_day or 0)} mL）",
            "饮酒量",
        ),
        (i.age >= OLDER_AGE, f"年龄 {fmt(i.age)} 岁（≥{OLDER_AGE} 岁）"),
    ]


def finding(inputs: HtnHighRiskInput) -> tuple[bool | None, ...]:
    """What the screening finds, without its words: each factor present, absent or unknown;
    () for a diagnosed patient. Two inputs with the same finding give the same category and
    factors (a new reading of the same kind need not be stored again)."""
    return (
        ()
        if inputs.hypertension
        else tuple(bool(p) if p is not None else None for p, _ in _checks(inputs))
    )


def htn_high_risk(inputs: HtnHighRiskInput) -> HtnHighRiskResult:
    i = inputs
    if i.hypertension:
        return HtnHighRiskResult(
            inputs=inputs,
            category=PATIENT,
            factors=[],
            unknown=[],
            explanation="已确诊高血压：按高血压患者健康管理随访，不再按高危人群筛查。",
        )
    checks = _checks(i)
    factors = [text for present, text in checks if present]
    unknown = [text for present, text in checks if present is None]
    category = HIGH_RISK if factors else NOT_HIGH_RISK
    if factors:
        explanation = f"符合高血压高危人群（具备 {len(factors)} 项危险因素）：" + "；".join(factors)
        explanation += f"。{ADVICE}"
    else:
        explanation = "六项高血压危险因素均不具备，不属于高血压高危人群。"
    warnings = []
    if unknown:
        warnings.append("未记录：" + "、".join(unknown) + "，按不具备计。")
    if _hypertensive(i):
        warnings.append("血压≥140/90 mmHg：按规范需排除干扰因素后非同日复测，以明确是否为高血压。")
    return HtnHighRiskResult(
        inputs=inputs,
        category=category,
        factors=factors,
        unknown=unknown,
        explanation=explanation,
        warnings=tuple(warnings),
    )

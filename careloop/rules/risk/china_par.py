"""China-PAR 10-year ASCVD risk (REFERENCE.md §2).

Yang X et al., Circulation 2016;134:1430–1440, a sex-specific Cox model:
risk = 1 − S10 ^ exp(ΣβX − mean ΣβX), with ln(age), ln(SBP), ln(TC mg/dL), ln(HDL-C mg/dL),
ln(waist cm) and 0/1 indicators (§2.1). Categories and the rules around them are the 2019
Chinese CVD risk guideline's (§2.2).

Choices REFERENCE asks us to make and document:
- men use the *refined* continuous coefficients (the paper's worked-example products divided by
  the example's values); the printed 2-dp values run about 6 % high (§2.1, §5.3);
- women use S10 = 0.985, not the printed 0.99, which runs a third low (§2.1, §5.2);
- TC and HDL-C convert with mg/dL = mmol/L ÷ 0.0259 (§2.1, §5.1);
- the risk is rounded half up to 0.1 % *before* it is categorised, like the official site (§2.3);
- people with ASCVD are 极高危 and are not scored (§2.2);
- the official calculator's input limits are enforced; ages outside 35–74, the ages the equation
  was derived in, are scored but flagged as extrapolated (§2.2, §5.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import (
    SEX_LABELS,
    InputError,
    ModelResult,
    check_number,
    fmt,
    require,
    round_half_up,
)

Sex = Literal["male", "female"]

MG_DL_PER_MMOL_L = 1 / 0.0259  # cholesterol, §2.1 ("mg/dL = mmol/L ÷ 0.0259"); not 38.67


@dataclass(frozen=True)
class Coefficients:
    """One sex's Cox model (REFERENCE §2.1 table). Terms absent from a model are 0."""

    ln_age: float
    ln_sbp_treated: float
    ln_sbp_untreated: float
    ln_tc: float
    ln_hdl: float
    ln_waist: float
    smoker: float
    diabetes: float
    north: float
    urban: float
    family_history: float
    ln_age_x_ln_sbp_treated: float
    ln_age_x_ln_sbp_untreated: float
    ln_age_x_smoker: float
    ln_age_x_family_history: float
    mean: float  # mean ΣβX of the derivation cohort
    s10: float  # 10-year baseline survival


# Men: Yang 2016 Supplemental Table 1, with the refined continuous coefficients of REFERENCE
# §2.1 (each rounds back to the printed 2-dp value) and S10 0.9707 (Suppl. Table 2 formula).
MEN = Coefficients(
    ln_age=31.96604,
    ln_sbp_treated=27.39,
    ln_sbp_untreated=26.14876,
    ln_tc=0.62090,
    ln_hdl=-0.69373,
    ln_waist=-0.71200,
    smoker=3.96,
    diabetes=0.36,
    north=0.48,
    urban=-0.16,
    family_history=6.22,
    ln_age_x_ln_sbp_treated=-6.02,
    ln_age_x_ln_sbp_untreated=-5.73074,
    ln_age_x_smoker=-0.94,
    ln_age_x_family_history=-1.53,
    mean=140.68,
    s10=0.9707,
)

# Women: Yang 2016 Supplemental Table 1 (printed values); no urban or family-history terms.
# S10 = 0.985 fitted to the paper's example and 130 official-calculator outputs (§2.1).
WOMEN = Coefficients(
    ln_age=24.87,
    ln_sbp_treated=20.71,
    ln_sbp_untreated=19.98,
    ln_tc=0.06,
    ln_hdl=-0.22,
    ln_waist=1.48,
    smoker=0.49,
    diabetes=0.57,
    north=0.54,
    urban=0.0,
    family_history=0.0,
    ln_age_x_ln_sbp_treated=-4.53,
    ln_age_x_ln_sbp_untreated=-4.36,
    ln_age_x_smoker=0.0,
    ln_age_x_family_history=0.0,
    mean=117.26,
    s10=0.985,
)

# 10-year categories, 2019 guideline (§2.2): <5.0 低危, 5.0–9.9 中危, ≥10.0 高危.
MEDIUM_FROM = 5.0
HIGH_FROM = 10.0
LOW, MEDIUM, HIGH, VERY_HIGH = "低危", "中危", "高危", "极高危"

# The official calculator's input limits (§2.2 "Official calculator input limits").
AGE_LIMITS = (20, 85)
SBP_LIMITS = (70, 200)
WAIST_LIMITS = (50, 130)
TC_LIMITS = (2, 11)  # mmol/L
HDL_LIMITS = (0.5, 4)  # mmol/L
# The ages the equations were derived in; outside them the result is an extrapolation (§5.4).
DERIVATION_AGES = (35, 74)

REQUIRED = (
    "sex",
    "age",
    "sbp_mmHg",
    "on_antihypertensive",
    "waist_cm",
    "tc_mmol_L",
    "hdl_mmol_L",
    "current_smoker",
    "diabetes",
    "region_north",
)
LIMITS = {
    "age": (*AGE_LIMITS, "years"),
    "sbp_mmHg": (*SBP_LIMITS, "mmHg"),
    "waist_cm": (*WAIST_LIMITS, "cm"),
    "tc_mmol_L": (*TC_LIMITS, "mmol/L"),
    "hdl_mmol_L": (*HDL_LIMITS, "mmol/L"),
}


@dataclass(frozen=True, kw_only=True)
class ChinaParInput:
    """China-PAR inputs, named as ``careloop assess china-par`` takes them.

    Every risk factor is required unless ``existing_ascvd`` is true (then nothing is scored).
    ``urban`` and ``family_history_ascvd`` are not in the women's model and may be left out
    for women.
    """

    sex: Sex | None = None
    age: float | None = None  # years
    sbp_mmHg: float | None = None  # current office SBP
    on_antihypertensive: bool | None = None
    waist_cm: float | None = None
    tc_mmol_L: float | None = None
    hdl_mmol_L: float | None = None
    current_smoker: bool | None = None
    diabetes: bool | None = None
    region_north: bool | None = None  # north of the Yangtze (以长江为界)
    urban: bool | None = None  # 城市 = true, 农村 = false
    family_history_ascvd: bool | None = None  # parent or sibling with MI or stroke
    existing_ascvd: bool = False

    def __post_init__(self) -> None:
        for name, (low, high, unit) in LIMITS.items():
            value = getattr(self, name)
            if value is not None:
                check_number(name, value, low, high, unit)
        if not self.existing_ascvd:
            why = " (it may be left out only when existing_ascvd is true)"
            for name in REQUIRED:
                require(name, getattr(self, name), why)
            if self.sex == "male":
                men_only = " for men (it may be left out for women)"
                require("urban", self.urban, men_only)
                require("family_history_ascvd", self.family_history_ascvd, men_only)
        if (
            self.hdl_mmol_L is not None
            and self.tc_mmol_L is not None
            and self.hdl_mmol_L >= self.tc_mmol_L
        ):
            raise InputError("hdl_mmol_L", "must be lower than tc_mmol_L")


@dataclass(frozen=True, kw_only=True)
class ChinaParResult(ModelResult):
    MODEL = "china-par"
    VERSION = "china-par/yang2016-refined-male-beta-female-s10-0.985/1"

    risk10_percent: float | None  # rounded half up to 0.1; None when not scored
    category: str  # 低危 / 中危 / 高危; 极高危 when existing ASCVD (not scored)
    scored: bool
    sum_beta_x: float | None  # ΣβX, to check against the paper's worked example


def categorise(risk10_percent: float) -> str:
    """§2.2, applied to the risk already rounded to 0.1 %."""
    if risk10_percent >= HIGH_FROM:
        return HIGH
    if risk10_percent >= MEDIUM_FROM:
        return MEDIUM
    return LOW


def linear_predictor(
    coefficients: Coefficients,
    *,
    age: float,
    sbp_mmHg: float,
    treated: bool,
    tc_mg_dl: float,
    hdl_mg_dl: float,
    waist_cm: float,
    smoker: bool,
    diabetes: bool,
    north: bool,
    urban: bool,
    family_history: bool,
) -> float:
    """ΣβX (§2.1). SBP and its age interaction go in the treated or the untreated term."""
    c = coefficients
    ln_age, ln_sbp = math.log(age), math.log(sbp_mmHg)
    if treated:
        sbp_terms = c.ln_sbp_treated * ln_sbp + c.ln_age_x_ln_sbp_treated * ln_age * ln_sbp
    else:
        sbp_terms = c.ln_sbp_untreated * ln_sbp + c.ln_age_x_ln_sbp_untreated * ln_age * ln_sbp
    return (
        c.ln_age * ln_age
        + sbp_terms
        + c.ln_tc * math.log(tc_mg_dl)
        + c.ln_hdl * math.log(hdl_mg_dl)
        + c.ln_waist * math.log(waist_cm)
        + c.smoker * smoker
        + c.diabetes * diabetes
        + c.north * north
        + c.urban * urban
        + c.family_history * family_history
        + c.ln_age_x_smoker * ln_age * smoker
        + c.ln_age_x_family_history * ln_age * family_history
    )


def risk_from_predictor(coefficients: Coefficients, sum_beta_x: float) -> float:
    """10-year risk in percent, unrounded: 100 × (1 − S10^exp(ΣβX − mean))."""
    return 100 * (1 - coefficients.s10 ** math.exp(sum_beta_x - coefficients.mean))


def china_par_risk(inputs: ChinaParInput) -> ChinaParResult:
    """China-PAR 10-year ASCVD risk and its 2019-guideline category (REFERENCE §2)."""
    if inputs.existing_ascvd:
        return ChinaParResult(
            inputs=inputs,
            risk10_percent=None,
            category=VERY_HIGH,
            scored=False,
            sum_beta_x=None,
            explanation=(
                "已患动脉粥样硬化性心血管病（ASCVD），按2019年《中国心血管病风险评估和管理指南》"
                "直接列为极高危，不再用China-PAR评估10年风险。"
            ),
        )
    # __post_init__ has checked that every factor the model uses is there.
    assert inputs.sex is not None and inputs.age is not None and inputs.sbp_mmHg is not None
    assert inputs.waist_cm is not None and inputs.tc_mmol_L is not None
    assert inputs.hdl_mmol_L is not None
    male = inputs.sex == "male"
    coefficients = MEN if male else WOMEN
    tc_mg_dl = inputs.tc_mmol_L * MG_DL_PER_MMOL_L
    hdl_mg_dl = inputs.hdl_mmol_L * MG_DL_PER_MMOL_L
    sum_beta_x = linear_predictor(
        coefficients,
        age=inputs.age,
        sbp_mmHg=inputs.sbp_mmHg,
        treated=bool(inputs.on_antihypertensive),
        tc_mg_dl=tc_mg_dl,
        hdl_mg_dl=hdl_mg_dl,
        waist_cm=inputs.waist_cm,
        smoker=bool(inputs.current_smoker),
        diabetes=bool(inputs.diabetes),
        north=bool(inputs.region_north),
        urban=bool(inputs.urban) and male,
        family_history=bool(inputs.family_history_ascvd) and male,
    )
    risk = round_half_up(risk_from_predictor(coefficients, sum_beta_x), 1)
    category = categorise(risk)

    warnings: list[str] = []
    low, high = DERIVATION_AGES
    if not low <= inputs.age <= high:
        warnings.append(
            f"年龄{fmt(inputs.age)}岁不在China-PAR方程的建模人群年龄（{low}–{high}岁）内，"
            "结果为外推值，仅供参考。"
        )

    factors = [
        f"{SEX_LABELS[inputs.sex]}性，{fmt(inputs.age)}岁",
        f"收缩压{fmt(inputs.sbp_mmHg)} mmHg（{'服' if inputs.on_antihypertensive else '未服'}"
        "降压药）",
        f"总胆固醇{fmt(inputs.tc_mmol_L)} mmol/L（{tc_mg_dl:.1f} mg/dL）",
        f"HDL-C {fmt(inputs.hdl_mmol_L)} mmol/L（{hdl_mg_dl:.1f} mg/dL）",
        f"腰围{fmt(inputs.waist_cm)} cm",
        "目前吸烟" if inputs.current_smoker else "不吸烟",
        "有糖尿病" if inputs.diabetes else "无糖尿病",
        "北方" if inputs.region_north else "南方",
    ]
    if male:
        factors.append("城市" if inputs.urban else "农村")
        factors.append(
            "有心脑血管病家族史" if inputs.family_history_ascvd else "无心脑血管病家族史"
        )
    band_text = {
        LOW: f"低于{MEDIUM_FROM:.1f}%",
        MEDIUM: f"在{MEDIUM_FROM:.1f}%–{HIGH_FROM - 0.1:.1f}%之间",
        HIGH: f"达到或超过{HIGH_FROM:.1f}%",
    }[category]
    model_text = (
        "男性方程" if male else "女性方程（女性方程不含城乡和家族史两项，基线生存率取0.985）"
    )
    explanation = (
        f"{'，'.join(factors)}。按China-PAR{model_text}计算，"
        f"未来10年发生动脉粥样硬化性心血管病（心肌梗死、脑卒中等）的风险为{risk:.1f}%，"
        f"{band_text}，属{category}（2019年《中国心血管病风险评估和管理指南》："
        f"<5.0%低危，5.0%–9.9%中危，≥10.0%高危）。"
    )
    return ChinaParResult(
        inputs=inputs,
        risk10_percent=risk,
        category=category,
        scored=True,
        sum_beta_x=round(sum_beta_x, 4),
        explanation=explanation,
        warnings=tuple(warnings),
    )

"""Estimated GFR by CKD-EPI 2021 and CKD-EPI 2009, with the KDIGO G stage (REFERENCE.md §4.4).

Creatinine arrives in µmol/L and is converted to mg/dL (÷ 88.4). Each eGFR is reported rounded
to an integer (half up) and that integer is staged: G1 ≥90, G2 60–89, G3a 45–59, G3b 30–44,
G4 15–29, G5 <15 (mL/min/1.73 m²).

China uses both equations; ``category`` is the stage of the race-free CKD-EPI 2021 value and
``category_ckd_epi_2009`` the stage of the 2009 one. The 2009 equation's ×1.159 for black
patients is not applied: the input has no race and the population served is Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import SEX_LABELS, ModelResult, band, check_number, fmt, round_half_up

Sex = Literal["male", "female"]

UMOL_PER_MG_DL = 88.4  # creatinine


@dataclass(frozen=True)
class Equation:
    """142 × min(Scr/κ,1)^α × max(Scr/κ,1)^exponent × age_base^age × female_factor."""

    constant: float
    kappa: dict[str, float]
    alpha: dict[str, float]
    exponent_above_kappa: float
    age_base: float
    female_factor: float


# Inker LA et al., NEJM 2021;385:1737–49 (race-free).
CKD_EPI_2021 = Equation(
    constant=142,
    kappa={"female": 0.7, "male": 0.9},
    alpha={"female": -0.241, "male": -0.302},
    exponent_above_kappa=-1.200,
    age_base=0.9938,
    female_factor=1.012,
)
# Levey AS et al., Ann Intern Med 2009;150:604–12 (the ×1.159 black coefficient not applied).
CKD_EPI_2009 = Equation(
    constant=141,
    kappa={"female": 0.7, "male": 0.9},
    alpha={"female": -0.329, "male": -0.411},
    exponent_above_kappa=-1.209,
    age_base=0.993,
    female_factor=1.018,
)

# (lower bound, stage), ascending: KDIGO GFR categories.
STAGES = ((0, "G5"), (15, "G4"), (30, "G3b"), (45, "G3a"), (60, "G2"), (90, "G1"))
STAGE_TEXT = {
    "G1": "正常或升高（≥90）",
    "G2": "轻度下降（60–89）",
    "G3a": "轻到中度下降（45–59）",
    "G3b": "中到重度下降（30–44）",
    "G4": "重度下降（15–29）",
    "G5": "肾衰竭（<15）",
}


@dataclass(frozen=True, kw_only=True)
class EgfrInput:
    age: float  # years, adults
    sex: Sex
    creatinine_umol_L: float  # serum creatinine (enzymatic or IDMS-traceable)

    def __post_init__(self) -> None:
        check_number("age", self.age, 18, 120, "years (CKD-EPI is for adults)")
        check_number("creatinine_umol_L", self.creatinine_umol_L, 10, 3000, "µmol/L")


@dataclass(frozen=True, kw_only=True)
class EgfrResult(ModelResult):
    MODEL = "egfr"
    VERSION = "egfr/ckd-epi-2021+2009-kdigo/1"

    egfr_ckd_epi_2021: int  # mL/min/1.73 m²
    egfr_ckd_epi_2009: int
    category: str  # G1 / G2 / G3a / G3b / G4 / G5, from the 2021 value
    category_ckd_epi_2009: str


def estimate(equation: Equation, *, age: float, sex: Sex, creatinine_umol_L: float) -> float:
    """eGFR in mL/min/1.73 m², unrounded."""
    ratio = creatinine_umol_L / UMOL_PER_MG_DL / equation.kappa[sex]
    value = (
        equation.constant
        * min(ratio, 1) ** equation.alpha[sex]
        * max(ratio, 1) ** equation.exponent_above_kappa
        * equation.age_base**age
    )
    return value * equation.female_factor if sex == "female" else value


def stage(egfr: float) -> str:
    """KDIGO G category of an eGFR already rounded to an integer."""
    return str(band(egfr, STAGES))


def egfr_stage(inputs: EgfrInput) -> EgfrResult:
    values = {
        name: int(
            round_half_up(
                estimate(
                    equation,
                    age=inputs.age,
                    sex=inputs.sex,
                    creatinine_umol_L=inputs.creatinine_umol_L,
                )
            )
        )
        for name, equation in (("2021", CKD_EPI_2021), ("2009", CKD_EPI_2009))
    }
    category, category_2009 = stage(values["2021"]), stage(values["2009"])
    explanation = (
        f"{SEX_LABELS[inputs.sex]}性，{fmt(inputs.age)}岁，"
        f"血肌酐{fmt(inputs.creatinine_umol_L)} µmol/L"
        f"（{inputs.creatinine_umol_L / UMOL_PER_MG_DL:.2f} mg/dL）。"
        f"CKD-EPI 2021公式（不含种族系数）估算eGFR为{values['2021']} mL/min/1.73m²，"
        f"属{category}期，肾小球滤过率{STAGE_TEXT[category]}；"
        f"CKD-EPI 2009公式为{values['2009']} mL/min/1.73m²，属{category_2009}期。"
        "分期以2021公式为准（KDIGO）；单次结果异常需3个月后复查才能判断慢性肾脏病。"
    )
    return EgfrResult(
        inputs=inputs,
        egfr_ckd_epi_2021=values["2021"],
        egfr_ckd_epi_2009=values["2009"],
        category=category,
        category_ckd_epi_2009=category_2009,
        explanation=explanation,
    )

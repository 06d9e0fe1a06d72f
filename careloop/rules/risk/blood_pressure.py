"""Office blood-pressure grade, 中国高血压防治指南2018年修订版 (REFERENCE.md §4.1).

The same table is in 高血压基层诊疗指南 2019, and the 2024 revision keeps 140/90 and grades 1–3;
it is the standard BPHS uses. When SBP and DBP fall in different grades the higher one counts.
Isolated systolic hypertension is SBP ≥140 and DBP <90.

The standard is selectable (``standard``, REFERENCE §4.1): "2018" (the default, above) or
"2022", 《中国高血压临床实践指南》(2022), which diagnoses hypertension at ≥130/80 mmHg with two
grades: 1级 130–139 and/or 80–89, 2级 ≥140 and/or ≥90 (below 130/80 it is not hypertension;
isolated systolic is SBP ≥130 with DBP <80).

Grades describe untreated BP. A patient taking antihypertensives is hypertensive whatever the
reading (a treated patient below 140/90 is still hypertensive), so for them ``category`` only
describes the level of this reading and ``hypertension`` is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import (
    ModelResult,
    band,
    check_diastolic_below,
    check_number,
    fmt,
)

NORMAL, HIGH_NORMAL = "正常血压", "正常高值"
GRADE_1, GRADE_2, GRADE_3 = "1级高血压", "2级高血压", "3级高血压"
ORDER = (NORMAL, HIGH_NORMAL, GRADE_1, GRADE_2, GRADE_3)

# (lower bound, category), ascending: SBP <120 / 120–139 / 140–159 / 160–179 / ≥180,
# DBP <80 / 80–89 / 90–99 / 100–109 / ≥110.
SBP_BANDS = ((0, NORMAL), (120, HIGH_NORMAL), (140, GRADE_1), (160, GRADE_2), (180, GRADE_3))
DBP_BANDS = ((0, NORMAL), (80, HIGH_NORMAL), (90, GRADE_1), (100, GRADE_2), (110, GRADE_3))
HYPERTENSION_SBP, HYPERTENSION_DBP = 140, 90


@dataclass(frozen=True)
class Standard:
    sbp_bands: tuple[tuple[float, str], ...]
    dbp_bands: tuple[tuple[float, str], ...]
    sbp: float  # hypertension from (inclusive)
    dbp: float
    name: str


STANDARDS = {
    "2018": Standard(
        SBP_BANDS,
        DBP_BANDS,
        HYPERTENSION_SBP,
        HYPERTENSION_DBP,
        "《中国高血压防治指南（2018年修订版）》",
    ),
    "2022": Standard(
        ((0, NORMAL), (130, GRADE_1), (140, GRADE_2)),
        ((0, NORMAL), (80, GRADE_1), (90, GRADE_2)),
        130,
        80,
        "《中国高血压临床实践指南》（2022）",
    ),
}


@dataclass(frozen=True, kw_only=True)
class BpInput:
    sbp_mmHg: float
    dbp_mmHg: float
    on_antihypertensive: bool
    standard: Literal["2018", "2022"] = "2018"

    def __post_init__(self) -> None:
        check_number("sbp_mmHg", self.sbp_mmHg, 40, 300, "mmHg")
        check_number("dbp_mmHg", self.dbp_mmHg, 20, 200, "mmHg")
        check_diastolic_below("sbp_mmHg", self.sbp_mmHg, "dbp_mmHg", self.dbp_mmHg)


@dataclass(frozen=True, kw_only=True)
class BpResult(ModelResult):
    MODEL = "bp-grade"
    VERSION = "bp-grade/chn-hypertension-guideline-2018/1"

    category: str  # 正常血压 / 正常高值 / 1级高血压 / 2级高血压 / 3级高血压
    isolated_systolic_hypertension: bool
    hypertension: bool  # ≥140/90 (2022: ≥130/80), or on antihypertensives whatever the reading


def bp_grade(inputs: BpInput) -> BpResult:
    """Grade one office reading (§4.1 table)."""
    standard = STANDARDS[inputs.standard]
    by_sbp = band(inputs.sbp_mmHg, standard.sbp_bands)
    by_dbp = band(inputs.dbp_mmHg, standard.dbp_bands)
    category = max(by_sbp, by_dbp, key=ORDER.index)
    isolated = inputs.sbp_mmHg >= standard.sbp and inputs.dbp_mmHg < standard.dbp
    raised = inputs.sbp_mmHg >= standard.sbp or inputs.dbp_mmHg >= standard.dbp
    limit = f"{fmt(standard.sbp)}/{fmt(standard.dbp)} mmHg"
    reading = f"血压{fmt(inputs.sbp_mmHg)}/{fmt(inputs.dbp_mmHg)} mmHg"
    if by_sbp == by_dbp:
        why = f"收缩压和舒张压均在{category}范围"
    else:
        why = f"收缩压属{by_sbp}、舒张压属{by_dbp}，两者不在同一级别时按较高者定级"
    parts = [f"{reading}：{why}，属{category}（{standard.name}）。"]
    if isolated:
        parts.append(
            f"收缩压≥{fmt(standard.sbp)} mmHg且舒张压<{fmt(standard.dbp)} mmHg，"
            "为单纯收缩期高血压。"
        )
    if inputs.on_antihypertensive:
        if raised:
            parts.append(f"正在服用降压药，本次血压仍≥{limit}。")
        else:
            parts.append(
                f"正在服用降压药，血压虽低于{limit}，仍应诊断为高血压；"
                "此处分级只描述本次读数，不代表未治疗时的分级。"
            )
    return BpResult(
        inputs=inputs,
        category=category,
        isolated_systolic_hypertension=isolated,
        hypertension=raised or inputs.on_antihypertensive,
        explanation="".join(parts),
    )

"""Glucose category, WHO 1999 as adopted by the Chinese Diabetes Society (REFERENCE.md §4.2).

Venous plasma, mmol/L: normal FPG <6.1 and 2-h OGTT <7.8; IFG FPG 6.1–<7.0 with 2-h <7.8;
IGT FPG <7.0 with 2-h 7.8–<11.1 (so an FPG of 6.1–<7.0 with a 2-h of 7.8–<11.1 is IGT, as the
table has it; the explanation says the FPG is impaired too); diabetes range FPG ≥7.0 or 2-h
≥11.1.
HbA1c ≥6.5 % is the other diagnostic route (CDS 2020) and is reported on its own
(``hba1c_ge_6_5``), not folded into ``glucose_category``.

Any value may be missing. With only one glucose value the category is what that value shows,
and a warning says what cannot be excluded (FPG alone cannot exclude IGT). With no glucose
value the category is null. Capillary (glucometer) readings are not diagnostic (§5.6).
"""

from __future__ import annotations

from dataclasses import dataclass

from careloop.rules.risk.base import InputError, ModelResult, check_number, fmt

NORMAL, IFG, IGT, DIABETES = "normal", "IFG", "IGT", "diabetes"
LABELS = {
    NORMAL: "正常",
    IFG: "空腹血糖受损（IFG）",
    IGT: "糖耐量减低（IGT）",
    DIABETES: "达到糖尿病诊断切点",
    "IFG+IGT": "空腹血糖受损合并糖耐量减低（IFG+IGT）",  # stored by version 1; shown as it was
}

FPG_IFG_FROM = 6.1
FPG_DIABETES_FROM = 7.0
OGTT_IGT_FROM = 7.8
OGTT_DIABETES_FROM = 11.1
HBA1C_DIABETES_FROM = 6.5  # %
# The §4.2 table has no low row: ≤3.9 mmol/L is hypoglycaemia in a diabetic patient (the BPHS
# urgent-referral limit, §1.2), said as a warning beside the category the table gives.
HYPOGLYCAEMIA_FROM = 3.9


@dataclass(frozen=True, kw_only=True)
class GlucoseInput:
    """All optional (absent or null), but at least one value is needed."""

    fpg: float | None = None  # fasting plasma glucose, mmol/L
    ogtt_2h: float | None = None  # 2-h glucose of a 75 g OGTT, mmol/L
    hba1c_percent: float | None = None  # HbA1c, % (NGSP)

    def __post_init__(self) -> None:
        if self.fpg is None and self.ogtt_2h is None and self.hba1c_percent is None:
            raise InputError("fpg", "(or ogtt_2h or hba1c_percent) is required: give at least one")
        if self.fpg is not None:
            check_number("fpg", self.fpg, 0.5, 60, "mmol/L")
        if self.ogtt_2h is not None:
            check_number("ogtt_2h", self.ogtt_2h, 0.5, 60, "mmol/L")
        if self.hba1c_percent is not None:
            check_number("hba1c_percent", self.hba1c_percent, 2, 25, "%")


@dataclass(frozen=True, kw_only=True)
class GlucoseResult(ModelResult):
    MODEL = "glucose"
    VERSION = "glucose/who1999-cds/2"

    glucose_category: str | None  # normal / IFG / IGT / diabetes; null without glucose
    hba1c_ge_6_5: bool | None  # null without HbA1c


def classify(fpg: float | None, ogtt_2h: float | None) -> str | None:
    """The §4.2 table on whichever of FPG and 2-h glucose is known."""
    if fpg is None and ogtt_2h is None:
        return None
    if (fpg is not None and fpg >= FPG_DIABETES_FROM) or (
        ogtt_2h is not None and ogtt_2h >= OGTT_DIABETES_FROM
    ):
        return DIABETES
    if ogtt_2h is not None and ogtt_2h >= OGTT_IGT_FROM:
        return IGT  # whatever the FPG below 7.0 (the table's IGT row)
    if fpg is not None and fpg >= FPG_IFG_FROM:
        return IFG
    return NORMAL


def glucose_category(inputs: GlucoseInput) -> GlucoseResult:
    category = classify(inputs.fpg, inputs.ogtt_2h)
    hba1c_high = (
        None if inputs.hba1c_percent is None else inputs.hba1c_percent >= HBA1C_DIABETES_FROM
    )
    shown = []
    if inputs.fpg is not None:
        shown.append(f"空腹血糖{fmt(inputs.fpg)} mmol/L")
    if inputs.ogtt_2h is not None:
        shown.append(f"OGTT 2小时血糖{fmt(inputs.ogtt_2h)} mmol/L")
    if inputs.hba1c_percent is not None:
        shown.append(f"糖化血红蛋白{fmt(inputs.hba1c_percent)}%")
    parts = [f"{'，'.join(shown)}。"]
    warnings: list[str] = []
    if category is not None:
        parts.append(
            f"按WHO 1999标准（中华医学会糖尿病学分会采用；空腹<6.1且2小时<7.8为正常，"
            f"空腹6.1–<7.0为空腹血糖受损，2小时7.8–<11.1为糖耐量减低，"
            f"空腹≥7.0或2小时≥11.1达糖尿病切点），血糖状态为{LABELS[category]}。"
        )
        if category == IGT and inputs.fpg is not None and inputs.fpg >= FPG_IFG_FROM:
            parts.append("空腹血糖也在受损范围（6.1–<7.0）。")
        if category == DIABETES:
            parts.append("无典型症状者需改日复查确认后才能诊断糖尿病。")
        if category != DIABETES and inputs.ogtt_2h is None:
            warnings.append("未做OGTT，仅凭空腹血糖不能排除糖耐量减低。")
        if category != DIABETES and inputs.fpg is None:
            warnings.append("缺少空腹血糖，不能排除空腹血糖受损或空腹血糖达到糖尿病切点。")
    else:
        parts.append("没有空腹或OGTT 2小时血糖，无法判断血糖分类。")
    low = [
        f"{label}{fmt(value)} mmol/L"
        for label, value in (("空腹血糖", inputs.fpg), ("OGTT 2小时血糖", inputs.ogtt_2h))
        if value is not None and value <= HYPOGLYCAEMIA_FROM
    ]
    if low:
        warnings.append(
            f"{'、'.join(low)}，不高于{fmt(HYPOGLYCAEMIA_FROM)} mmol/L，为低血糖范围，"
            "需及时处理（糖尿病患者血糖≤3.9 mmol/L应紧急转诊）。"
        )
    if hba1c_high is not None:
        parts.append(
            f"糖化血红蛋白{'≥' if hba1c_high else '<'}6.5%，"
            f"{'达到' if hba1c_high else '未达到'}糖尿病诊断切点（中国2型糖尿病防治指南2020）。"
        )
    parts.append("以上切点适用于静脉血浆，指尖血（血糖仪）结果不能用于诊断。")
    return GlucoseResult(
        inputs=inputs,
        glucose_category=category,
        hba1c_ge_6_5=hba1c_high,
        explanation="".join(parts),
        warnings=tuple(warnings),
    )

"""National BPHS follow-up classification for hypertension and type 2 diabetes
(国家基本公共卫生服务规范 第三版 2017; REFERENCE.md §1.1, §1.2, §1.3).

At every follow-up visit:

1. Urgent criteria first (§1.3); any one of them, OR-ed, means "handle, refer urgently
   (紧急转诊), follow the referral up actively within 2 weeks". Danger symptoms alone are enough,
   even when BP or glucose is controlled. Limits are inclusive (≥180 / ≥110; glucose ≥16.7 or
   ≤3.9).
2. The form's single-choice 此次随访分类, by the convention of §1.3:
   并发症 > 不良反应 > 控制不满意 > 控制满意. The flags under it are returned too.
3. Referral to a higher-level hospital (follow it up within 2 weeks) when control is
   unsatisfactory on two consecutive scheduled visits (this one and ``previous_classification``),
   an adverse drug reaction is hard to control (diabetes: not improved after 2 visits), or a
   complication is new or worse.
4. Otherwise: first unsatisfactory control or an adverse reaction → adjust treatment and see the
   patient again within 2 weeks; controlled → book the next routine visit within 3 months.

``urgent_referral`` and ``referral`` are separate flags: each says whether its own criteria are
met (an urgent referral on a first high reading does not make it a "two consecutive" referral).
``next_followup_max_days`` is 14 for anything that needs the 2-week follow-up and 90 (≤3 months,
derived from ≥4 visits a year, §1.1) for a routine visit.

Control: hypertension SBP <140 and DBP <90, strictly; at age ≥65 the BPHS elderly target
150/90 by default (UNVERIFIED in REFERENCE, hence a parameter). Diabetes FPG <7.0 mmol/L, so
exactly 7.0 is not controlled.

Danger symptoms are matched as the spec words them, and as notes commonly word them (a symptom
counts when it contains one of the terms, e.g. "心悸胸闷" contains 心悸; 昏迷 and 神志不清 are
altered consciousness, 头痛剧烈 a severe headache, 心慌 palpitations). A negation covers its
clause ("无胸闷", "无头痛、胸闷", "胸闷已消失") and not the next one ("无头痛，但有胸闷"); the
form's milder items (头痛头晕 without 剧烈, 眼花耳鸣, 四肢发麻 …) do not trigger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from careloop.rules.risk.base import (
    InputError,
    ModelResult,
    check_diastolic_below,
    check_number,
    fmt,
)
from careloop.rules.risk.glucose import FPG_IFG_FROM, HYPOGLYCAEMIA_FROM

SATISFACTORY, UNSATISFACTORY = "控制满意", "控制不满意"
ADVERSE_REACTION, COMPLICATION = "不良反应", "并发症"
PreviousClassification = Literal["控制满意", "控制不满意"]

URGENT_SBP, URGENT_DBP = 180, 110  # mmHg, inclusive (§1.1, §1.2)
DM_URGENT_GLUCOSE_HIGH = 16.7  # mmol/L, inclusive (§1.2)
DM_URGENT_GLUCOSE_LOW = HYPOGLYCAEMIA_FROM  # 3.9, inclusive (§1.2)
DM_CONTROLLED_BELOW = 7.0  # FPG, mmol/L (§1.2)
# Pregnant or breastfeeding "with glucose above normal" refers urgently (§1.2); normal is the
# §4.2 fasting limit (<6.1 mmol/L).
DM_PREGNANCY_FPG_FROM = FPG_IFG_FROM
TACHYCARDIA_ABOVE = 100  # persistent HR >100/min (§1.2)
FEVER_ABOVE = 39.0  # °C (§1.2)
# "Pregnant or breastfeeding with BP above normal": the spec's "above normal" is the
# hypertensive range it screens for, ≥140 and/or ≥90 (§1.1 screening).
PREGNANCY_SBP, PREGNANCY_DBP = 140, 90

REFERRAL_FOLLOWUP_DAYS = 14  # "2周内主动随访转诊情况" (§1.1, §1.3)
ADJUSTMENT_FOLLOWUP_DAYS = 14  # "2周内随访"
ROUTINE_FOLLOWUP_DAYS = 90  # ≤3 months, derived from ≥4 visits a year (§1.1, §1.2)
BPHS_FROM_AGE = 35  # people covered by both services (§1.1, §1.2)


@dataclass(frozen=True)
class BpTarget:
    """Controlled means SBP < sbp and DBP < dbp (strict)."""

    sbp: float
    dbp: float


GENERAL_TARGET = BpTarget(140, 90)
ELDERLY_TARGET = BpTarget(150, 90)  # BPHS, age ≥65; UNVERIFIED (§1.1), configurable
ELDERLY_FROM_AGE = 65

# §1.1: 意识改变、剧烈头痛或头晕、恶心呕吐、视力模糊、眼痛、心悸、胸闷、喘憋不能平卧.
# Altered consciousness, as notes also write it.
CONSCIOUSNESS_TERMS = (
    "意识改变",
    "意识障碍",
    "意识不清",
    "意识模糊",
    "意识丧失",
    "昏迷",
    "神志不清",
    "神志模糊",
    "神志改变",
    "昏睡",
    "嗜睡",
    "晕厥",
    "昏厥",
    "意识欠清",
    "叫不醒",
    "胡言乱语",
    "反应迟钝",
)
EYE_PAIN_TERMS = ("眼痛", "眼睛痛", "眼睛疼", "眼疼", "眼胀痛", "眼睛胀痛", "眼部疼痛")
PALPITATION_TERMS = ("心悸", "心慌", "心里发慌", "心里慌", "心跳快", "心跳加快")
NAUSEA_TERMS = ("恶心", "呕吐", "呕", "吐了", "想吐")
BLURRED_VISION_TERMS = ("视力模糊", "视物模糊", "视物不清", "看东西模糊", "看不清")
HTN_DANGER_TERMS = (
    *CONSCIOUSNESS_TERMS,
    "剧烈头痛",
    "剧烈头晕",
    "头痛剧烈",
    "头晕剧烈",
    "严重头痛",
    "严重头晕",
    "头痛严重",
    "头晕严重",
    "头痛欲裂",
    "头痛难忍",
    *NAUSEA_TERMS,
    *BLURRED_VISION_TERMS,
    *EYE_PAIN_TERMS,
    *PALPITATION_TERMS,
    "胸闷",
    "胸口发闷",
    "胸口闷",
    "憋闷",
    "喘憋",
    "不能平卧",
    "端坐呼吸",
)
# §1.2: 意识或行为改变、呼气有烂苹果样丙酮味、心悸、出汗、食欲减退、恶心、呕吐、多饮、多尿、
# 腹痛、有深大呼吸、皮肤潮红; sudden abnormalities such as 视力突然骤降 / 视力模糊 / 眼痛.
DM_DANGER_TERMS = (
    *CONSCIOUSNESS_TERMS,
    "行为改变",
    "烂苹果",
    "丙酮",
    "烦躁",
    *PALPITATION_TERMS,
    "出汗",
    "大汗",
    "多汗",
    "冷汗",
    "盗汗",
    "食欲减退",
    "食欲不振",
    "食欲差",
    "纳差",
    "胃口差",
    *NAUSEA_TERMS,
    "多饮",
    "口渴",
    "多尿",
    "尿量增多",
    "三多一少",
    "腹痛",
    "腹部疼痛",
    "肚子痛",
    "深大呼吸",
    "呼吸深大",
    "深快呼吸",
    "呼吸深快",
    "皮肤潮红",
    "面色潮红",
    "视力骤降",
    "视力突然",
    *BLURRED_VISION_TERMS,
    *EYE_PAIN_TERMS,
)
# Reading a note clause by clause. A negation denies the symptoms after it in its clause
# ("患者无头痛、胸闷", "未出现恶心呕吐", "不伴有恶心") up to an affirmation ("无心悸、有胸闷",
# "无头痛头晕偶感心悸", "未规律服药后头痛剧烈"); a bare 不 or 没 denies only the word right after
# it ("不恶心", but not "不停呕吐", "不明原因晕厥" or "没吃药后心悸"); "无明显诱因出现头晕"
# denies nothing. A symptom followed by its denial ("胸闷(-)", "头痛、胸闷均无", "恶心呕吐：无",
# "心悸未再发作") or by its end ("胸闷已消失", but not "胸闷缓解后又加重") is not there.
# Advice ("嘱出现胸闷及时就诊"), questions ("有无胸闷"), another person's symptoms
# ("其母有心悸") and past history ("既往有晕厥史") are not the patient's state now.
_NEGATORS = re.compile(r"未再|没有|否认|不伴|并无|亦无|也无|未|无")
# After one of these the negation before it no longer holds ("未规律服药后头痛剧烈").
_AFFIRMATIONS = re.compile(r"伴有|出现|感到|自觉|偶感|偶有|时有|自述|有|后")
_NOT_AFFIRMING = "无没未不否再有认伴"  # an affirmation right after one of these is negated too
_NO_CAUSE = re.compile(r"无(?:明显)?(?:诱因|原因)")
_DENIED_AFTER = re.compile(
    r"^[^，,]{0,12}?(?:均无|都无|皆无|亦无|也无|[：:]\s*无|[(（]\s*[-－]\s*[)）]|未再发作|未再出现|未发作)"
)
_GONE = re.compile(r"^\s*(?:症状)?\s*(?:已|已经|现已)?(?:消失|没有了|没了|缓解)了?\s*$")
_NOT_NOW = re.compile(
    r"嘱|告知|如有|若有|如出现|若出现|一旦|及时就诊|立即就诊|有无|是否|其母|其父|母亲|父亲|"
    r"家族|既往|病史"
)
# Clauses: a negation does not reach past a comma, a full stop or a "but".
_CLAUSE_BREAK = re.compile(r"[，,。；;！!？?\n]|但是|但|不过|可是|然而")

ACTION_URGENT = "处理后紧急转诊，2周内主动随访转诊情况"
ACTION_REFERRAL = "建议转诊到上级医院，2周内主动随访转诊情况"
ACTION_ADJUST_HTN = "结合服药依从性，必要时增加现用药物剂量、更换或增加不同类的降压药物，2周内随访"
ACTION_ADJUST_DM = "结合服药依从性，必要时增加现有药物剂量、更换或增加不同类的降糖药物，2周内随访"
ACTION_ROUTINE = "预约下一次随访（3个月内）"
EDUCATION = (
    "对所有患者进行有针对性的健康教育，与患者一起制定生活方式改进目标并在下一次随访时评估进展，"
    "告诉患者出现哪些异常时应立即就诊。"
)


def danger_symptoms(symptoms: Iterable[str], terms: Iterable[str]) -> list[str]:
    """The symptoms that are danger signs: they contain a spec term (or one of its common
    wordings) not denied in its clause (how a note is read: the comment above ``_NEGATORS``)."""
    terms = tuple(terms)
    found = []
    for symptom in symptoms:
        text = symptom.strip()
        if any(_names_danger(clause.strip(), terms) for clause in _CLAUSE_BREAK.split(text)):
            found.append(text)
    return found


def _names_danger(clause: str, terms: tuple[str, ...]) -> bool:
    clause = _NO_CAUSE.sub("", clause).strip()
    if not clause or _NOT_NOW.search(clause):
        return False
    for term in terms:
        at = clause.find(term)
        while at >= 0:
            if not _denied(clause, at, at + len(term)):
                return True
            at = clause.find(term, at + 1)
    return False


def _denied(clause: str, start: int, end: int) -> bool:
    """Whether the symptom at clause[start:end] is denied or said to be gone."""
    after = clause[end:]
    if _DENIED_AFTER.match(after) or _GONE.match(after):
        return True
    if start > 0 and clause[start - 1] in "不没":
        return True  # "不恶心", "没胸闷"
    negators = list(_NEGATORS.finditer(clause, 0, start))
    if not negators:
        return False
    # Denied unless affirmed after the negation ("无心悸、有胸闷"; "未出现" affirms nothing).
    return all(
        clause[match.start() - 1] in _NOT_AFFIRMING
        for match in _AFFIRMATIONS.finditer(clause, negators[-1].end(), start)
    )


def _check_common(
    age: float,
    sbp: float,
    dbp: float,
    symptoms: tuple[str, ...],
) -> None:
    check_number("age", age, 1, 120, "years")
    check_number("sbp", sbp, 40, 300, "mmHg")
    check_number("dbp", dbp, 20, 200, "mmHg")
    check_diastolic_below("sbp", sbp, "dbp", dbp)
    if not all(isinstance(item, str) for item in symptoms):
        raise InputError("symptoms", "must be a list of symptom words (strings)")


@dataclass(frozen=True, kw_only=True)
class HtnFollowupInput:
    """One hypertension follow-up visit (高血压患者随访服务记录表)."""

    age: float
    sbp: float  # mmHg, this visit
    dbp: float
    symptoms: tuple[str, ...]  # e.g. ("头痛头晕", "心悸胸闷"); empty or ("无症状",) for none
    pregnant_or_lactating: bool
    adverse_reaction: bool
    adverse_reaction_hard_to_control: bool
    new_or_worse_complication: bool
    previous_classification: PreviousClassification | None = None  # last scheduled visit
    other_emergency: bool = False  # any other condition the clinic cannot manage

    def __post_init__(self) -> None:
        _check_common(self.age, self.sbp, self.dbp, self.symptoms)


@dataclass(frozen=True, kw_only=True)
class DmFollowupInput:
    """One type 2 diabetes follow-up visit (2型糖尿病患者随访服务记录表)."""

    age: float
    sbp: float
    dbp: float
    fpg: float  # fasting glucose this visit, mmol/L
    symptoms: tuple[str, ...]
    adverse_reaction: bool
    adverse_reaction_hard_to_control: bool  # not improved after 2 visits
    new_or_worse_complication: bool
    previous_classification: PreviousClassification | None = None
    hr: float | None = None  # heart rate, /min
    hr_persistent: bool = False  # the tachycardia persists
    temperature_c: float | None = None
    pregnant_or_lactating: bool = False
    other_emergency: bool = False

    def __post_init__(self) -> None:
        _check_common(self.age, self.sbp, self.dbp, self.symptoms)
        check_number("fpg", self.fpg, 0.5, 60, "mmol/L")
        if self.hr is not None:
            check_number("hr", self.hr, 20, 300, "/min")
        elif self.hr_persistent:
            raise InputError("hr", "is required when hr_persistent is true")
        if self.temperature_c is not None:
            check_number("temperature_c", self.temperature_c, 30, 45, "°C")


@dataclass(frozen=True, kw_only=True)
class FollowupResult(ModelResult):
    classification: str  # 控制满意 / 控制不满意 / 不良反应 / 并发症
    urgent_referral: bool
    referral: bool
    next_followup_max_days: int
    action: str
    reason: str
    controlled: bool
    urgent_reasons: tuple[str, ...]
    referral_reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class HtnFollowupResult(FollowupResult):
    MODEL = "htn-followup"
    VERSION = "htn-followup/bphs-3rd-2017/2"


@dataclass(frozen=True, kw_only=True)
class DmFollowupResult(FollowupResult):
    MODEL = "dm-followup"
    VERSION = "dm-followup/bphs-3rd-2017/3"


@dataclass(frozen=True)
class _Decision:
    classification: str
    referral_reasons: tuple[str, ...]
    next_followup_max_days: int
    action: str


def _decide(
    *,
    controlled: bool,
    urgent: bool,
    adverse_reaction: bool,
    adverse_hard: bool,
    complication: bool,
    previous: str | None,
    adjust_action: str,
    control_word: str,
) -> _Decision:
    """§1.1/§1.2 classified intervention, with the §1.3 precedence."""
    adverse = adverse_reaction or adverse_hard
    if complication:
        classification = COMPLICATION
    elif adverse:
        classification = ADVERSE_REACTION
    elif not controlled:
        classification = UNSATISFACTORY
    else:
        classification = SATISFACTORY
    referral_reasons = []
    if not controlled and previous == UNSATISFACTORY:
        referral_reasons.append(f"连续两次{control_word}控制不满意")
    if adverse_hard:
        referral_reasons.append("药物不良反应难以控制")
    if complication:
        referral_reasons.append("出现新的并发症或原有并发症加重")
    if urgent:
        action, days = ACTION_URGENT, REFERRAL_FOLLOWUP_DAYS
    elif referral_reasons:
        action, days = ACTION_REFERRAL, REFERRAL_FOLLOWUP_DAYS
    elif adverse or not controlled:
        action, days = adjust_action, ADJUSTMENT_FOLLOWUP_DAYS
    else:
        action, days = ACTION_ROUTINE, ROUTINE_FOLLOWUP_DAYS
    return _Decision(classification, tuple(referral_reasons), days, action)


def _age_warnings(age: float, disease: str) -> tuple[str, ...]:
    if age >= BPHS_FROM_AGE:
        return ()
    return (
        f"国家基本公共卫生服务{disease}患者健康管理的对象为{BPHS_FROM_AGE}岁及以上常住居民，"
        f"患者{fmt(age)}岁，分类规则仅供参考。",
    )


def _explain(
    facts: list[str],
    decision: _Decision,
    urgent_reasons: list[str],
) -> tuple[str, str]:
    """(reason, explanation)."""
    reasons = [*urgent_reasons, *decision.referral_reasons]
    if not reasons:
        reasons = [facts[-1]]
    reason = "；".join(reasons)
    parts = ["；".join(facts) + "。"]
    if urgent_reasons:
        parts.append(f"存在需紧急转诊的情况：{'；'.join(urgent_reasons)}。")
    if decision.referral_reasons:
        parts.append(f"符合转诊条件：{'；'.join(decision.referral_reasons)}。")
    parts.append(
        f"此次随访分类：{decision.classification}（并发症>不良反应>控制不满意>控制满意）。"
        f"处理：{decision.action}。{EDUCATION}"
    )
    return reason, "".join(parts)


def htn_followup(
    inputs: HtnFollowupInput,
    *,
    elderly_target: BpTarget | None = ELDERLY_TARGET,
    elderly_from_age: float = ELDERLY_FROM_AGE,
) -> HtnFollowupResult:
    """Classify a hypertension follow-up visit (REFERENCE §1.1, §1.3).

    ``elderly_target=None`` applies 140/90 at every age.
    """
    elderly = elderly_target is not None and inputs.age >= elderly_from_age
    target = elderly_target if elderly and elderly_target is not None else GENERAL_TARGET
    controlled = inputs.sbp < target.sbp and inputs.dbp < target.dbp

    urgent_reasons = []
    if inputs.sbp >= URGENT_SBP:
        urgent_reasons.append(f"收缩压≥{URGENT_SBP} mmHg")
    if inputs.dbp >= URGENT_DBP:
        urgent_reasons.append(f"舒张压≥{URGENT_DBP} mmHg")
    dangers = danger_symptoms(inputs.symptoms, HTN_DANGER_TERMS)
    if dangers:
        urgent_reasons.append(f"出现危急症状：{'、'.join(dangers)}")
    if inputs.pregnant_or_lactating and (
        inputs.sbp >= PREGNANCY_SBP or inputs.dbp >= PREGNANCY_DBP
    ):
        urgent_reasons.append("妊娠期或哺乳期且血压高于正常（≥140/90 mmHg）")
    if inputs.other_emergency:
        urgent_reasons.append("存在基层不能处理的其他情况")

    decision = _decide(
        controlled=controlled,
        urgent=bool(urgent_reasons),
        adverse_reaction=inputs.adverse_reaction,
        adverse_hard=inputs.adverse_reaction_hard_to_control,
        complication=inputs.new_or_worse_complication,
        previous=inputs.previous_classification,
        adjust_action=ACTION_ADJUST_HTN,
        control_word="血压",
    )
    target_text = f"<{fmt(target.sbp)}/{fmt(target.dbp)} mmHg"
    if elderly:
        target_text += f"（{fmt(elderly_from_age)}岁及以上老年患者）"
    facts = [
        f"本次血压{fmt(inputs.sbp)}/{fmt(inputs.dbp)} mmHg，控制目标{target_text}",
    ]
    if inputs.previous_classification:
        facts.append(f"上次随访{inputs.previous_classification}")
    if inputs.adverse_reaction or inputs.adverse_reaction_hard_to_control:
        facts.append(
            "有药物不良反应" + ("且难以控制" if inputs.adverse_reaction_hard_to_control else "")
        )
    if inputs.new_or_worse_complication:
        facts.append("出现新的并发症或原有并发症加重")
    facts.append("血压控制满意" if controlled else "血压控制不满意")
    reason, explanation = _explain(facts, decision, urgent_reasons)
    return HtnFollowupResult(
        inputs=inputs,
        classification=decision.classification,
        urgent_referral=bool(urgent_reasons),
        referral=bool(decision.referral_reasons),
        next_followup_max_days=decision.next_followup_max_days,
        action=decision.action,
        reason=reason,
        controlled=controlled,
        urgent_reasons=tuple(urgent_reasons),
        referral_reasons=decision.referral_reasons,
        explanation=explanation,
        warnings=_age_warnings(inputs.age, "高血压"),
    )


def dm_followup(inputs: DmFollowupInput) -> DmFollowupResult:
    """Classify a type 2 diabetes follow-up visit (REFERENCE §1.2, §1.3)."""
    controlled = inputs.fpg < DM_CONTROLLED_BELOW

    urgent_reasons = []
    if inputs.fpg >= DM_URGENT_GLUCOSE_HIGH:
        urgent_reasons.append(f"血糖≥{DM_URGENT_GLUCOSE_HIGH} mmol/L")
    if inputs.fpg <= DM_URGENT_GLUCOSE_LOW:
        urgent_reasons.append(f"血糖≤{DM_URGENT_GLUCOSE_LOW} mmol/L")
    if inputs.sbp >= URGENT_SBP:
        urgent_reasons.append(f"收缩压≥{URGENT_SBP} mmHg")
    if inputs.dbp >= URGENT_DBP:
        urgent_reasons.append(f"舒张压≥{URGENT_DBP} mmHg")
    dangers = danger_symptoms(inputs.symptoms, DM_DANGER_TERMS)
    if dangers:
        urgent_reasons.append(f"出现危急症状：{'、'.join(dangers)}")
    warnings = list(_age_warnings(inputs.age, "2型糖尿病"))
    if inputs.hr is not None and inputs.hr > TACHYCARDIA_ABOVE:
        if inputs.hr_persistent:
            urgent_reasons.append(f"持续性心动过速（心率>{TACHYCARDIA_ABOVE}次/分钟）")
        else:
            warnings.append(
                f"心率{fmt(inputs.hr)}次/分钟，如持续超过{TACHYCARDIA_ABOVE}次/分钟需紧急转诊。"
            )
    if inputs.temperature_c is not None and inputs.temperature_c > FEVER_ABOVE:
        urgent_reasons.append(f"体温超过{fmt(FEVER_ABOVE)}℃")
    if inputs.pregnant_or_lactating and inputs.fpg >= DM_PREGNANCY_FPG_FROM:
        urgent_reasons.append(
            f"妊娠期或哺乳期且血糖高于正常（空腹≥{fmt(DM_PREGNANCY_FPG_FROM)} mmol/L）"
        )
    if inputs.other_emergency:
        urgent_reasons.append("存在基层不能处理的其他情况")

    decision = _decide(
        controlled=controlled,
        urgent=bool(urgent_reasons),
        adverse_reaction=inputs.adverse_reaction,
        adverse_hard=inputs.adverse_reaction_hard_to_control,
        complication=inputs.new_or_worse_complication,
        previous=inputs.previous_classification,
        adjust_action=ACTION_ADJUST_DM,
        control_word="血糖",
    )
    facts = [
        f"本次空腹血糖{fmt(inputs.fpg)} mmol/L（控制目标<{DM_CONTROLLED_BELOW:.1f}），"
        f"血压{fmt(inputs.sbp)}/{fmt(inputs.dbp)} mmHg",
    ]
    if inputs.previous_classification:
        facts.append(f"上次随访{inputs.previous_classification}")
    if inputs.adverse_reaction or inputs.adverse_reaction_hard_to_control:
        facts.append(
            "有药物不良反应"
            + ("且2次随访未见好转" if inputs.adverse_reaction_hard_to_control else "")
        )
    if inputs.new_or_worse_complication:
        facts.append("出现新的并发症或原有并发症加重")
    facts.append("血糖控制满意" if controlled else "血糖控制不满意")
    reason, explanation = _explain(facts, decision, urgent_reasons)
    return DmFollowupResult(
        inputs=inputs,
        classification=decision.classification,
        urgent_referral=bool(urgent_reasons),
        referral=bool(decision.referral_reasons),
        next_followup_max_days=decision.next_followup_max_days,
        action=decision.action,
        reason=reason,
        controlled=controlled,
        urgent_reasons=tuple(urgent_reasons),
        referral_reasons=decision.referral_reasons,
        explanation=explanation,
        warnings=tuple(warnings),
    )

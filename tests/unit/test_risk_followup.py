"""BPHS hypertension and type 2 diabetes follow-up classification (REFERENCE.md §1.1–§1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.rules.risk.base import InputError
from careloop.rules.risk.followup import (
    DmFollowupInput,
    HtnFollowupInput,
    dm_followup,
    htn_followup,
)


def htn(**values: Any) -> HtnFollowupInput:
    base: dict[str, Any] = dict(
        age=60,
        sbp=130,
        dbp=80,
        symptoms=(),
        pregnant_or_lactating=False,
        adverse_reaction=False,
        adverse_reaction_hard_to_control=False,
        new_or_worse_complication=False,
        previous_classification=None,
    )
    base.update(values)
    return HtnFollowupInput(**base)


def dm(**values: Any) -> DmFollowupInput:
    base: dict[str, Any] = dict(
        age=60,
        sbp=130,
        dbp=80,
        fpg=6.0,
        symptoms=(),
        adverse_reaction=False,
        adverse_reaction_hard_to_control=False,
        new_or_worse_complication=False,
        previous_classification=None,
    )
    base.update(values)
    return DmFollowupInput(**base)


def test_htn_controlled_books_the_next_routine_visit_within_3_months() -> None:
    result = htn_followup(htn(sbp=139, dbp=89))
    assert result.classification == "控制满意"
    assert (result.urgent_referral, result.referral) == (False, False)
    assert result.next_followup_max_days == 90
    assert "预约下一次随访" in result.action


@pytest.mark.parametrize(("sbp", "dbp"), [(140, 85), (139, 90), (140, 88)])
def test_htn_first_uncontrolled_reading_is_seen_again_within_2_weeks(
    sbp: float, dbp: float
) -> None:
    # "Uncontrolled" is SBP ≥140 or DBP ≥90 (§1.1: use "or"); control is strictly <140/<90.
    result = htn_followup(htn(sbp=sbp, dbp=dbp, previous_classification="控制满意"))
    assert result.classification == "控制不满意"
    assert (result.urgent_referral, result.referral) == (False, False)
    assert result.next_followup_max_days == 14
    assert "2周内随访" in result.action


def test_htn_uncontrolled_on_two_consecutive_visits_is_referred() -> None:
    result = htn_followup(htn(sbp=150, dbp=85, previous_classification="控制不满意"))
    assert result.classification == "控制不满意"
    assert result.referral is True and result.urgent_referral is False
    assert result.next_followup_max_days == 14
    assert "转诊" in result.action and "连续两次" in result.reason


def test_htn_controlled_after_an_uncontrolled_visit_is_not_referred() -> None:
    result = htn_followup(htn(sbp=130, dbp=80, previous_classification="控制不满意"))
    assert (result.classification, result.referral) == ("控制满意", False)


@pytest.mark.parametrize(
    ("sbp", "dbp", "urgent"),
    [(180, 100, True), (179, 109, False), (150, 110, True), (185, 115, True)],
)
def test_htn_urgent_bp_limits_are_inclusive(sbp: float, dbp: float, urgent: bool) -> None:
    # §1.1/§1.3: SBP ≥180 and/or DBP ≥110 → urgent referral.
    result = htn_followup(htn(sbp=sbp, dbp=dbp))
    assert result.urgent_referral is urgent
    if urgent:
        assert result.next_followup_max_days == 14
        assert "紧急转诊" in result.action


@pytest.mark.parametrize(
    "symptom", ["胸闷", "心悸胸闷", "恶心呕吐", "意识改变", "剧烈头痛", "视力模糊", "喘憋不能平卧"]
)
def test_htn_danger_symptoms_alone_trigger_urgent_referral(symptom: str) -> None:
    # §1.3: symptoms alone trigger referral even when BP is controlled.
    result = htn_followup(htn(symptoms=(symptom,)))
    assert result.urgent_referral is True
    assert result.classification == "控制满意"
    assert symptom in result.reason


@pytest.mark.parametrize("symptoms", [(), ("无症状",), ("无胸闷",), ("下肢水肿", "四肢发麻")])
def test_htn_no_or_non_danger_symptoms_do_not(symptoms: tuple[str, ...]) -> None:
    assert htn_followup(htn(symptoms=symptoms)).urgent_referral is False


def test_htn_pregnant_with_raised_bp_is_urgent() -> None:
    assert htn_followup(htn(pregnant_or_lactating=True, sbp=140, dbp=85)).urgent_referral
    assert not htn_followup(htn(pregnant_or_lactating=True, sbp=135, dbp=85)).urgent_referral


def test_htn_adverse_reaction_and_complication() -> None:
    adverse = htn_followup(htn(adverse_reaction=True))
    assert (adverse.classification, adverse.referral, adverse.next_followup_max_days) == (
        "不良反应",
        False,
        14,
    )
    hard = htn_followup(htn(adverse_reaction=True, adverse_reaction_hard_to_control=True))
    assert (hard.classification, hard.referral) == ("不良反应", True)
    complication = htn_followup(htn(new_or_worse_complication=True))
    assert (complication.classification, complication.referral) == ("并发症", True)
    assert complication.next_followup_max_days == 14


def test_htn_classification_precedence() -> None:
    # §1.3 convention: 并发症 > 不良反应 > 控制不满意 > 控制满意.
    everything = htn(sbp=150, adverse_reaction=True, new_or_worse_complication=True)
    assert htn_followup(everything).classification == "并发症"
    assert htn_followup(htn(sbp=150, adverse_reaction=True)).classification == "不良反应"


def test_htn_elderly_target_is_150_90_by_default_and_configurable() -> None:
    # §1.1: configurable elderly target, defaulting to 150/90 at age ≥65.
    assert htn_followup(htn(age=70, sbp=145, dbp=85)).classification == "控制满意"
    assert htn_followup(htn(age=70, sbp=150, dbp=85)).classification == "控制不满意"
    assert htn_followup(htn(age=64, sbp=145, dbp=85)).classification == "控制不满意"
    strict = htn_followup(htn(age=70, sbp=145, dbp=85), elderly_target=None)
    assert strict.classification == "控制不满意"


def test_htn_explanation_and_age_warning() -> None:
    result = htn_followup(htn(age=30, sbp=150, dbp=95))
    assert "此次随访分类：控制不满意" in result.explanation
    assert result.warnings and "35岁" in result.warnings[0]


@pytest.mark.parametrize(
    ("fpg", "classification", "days"), [(6.9, "控制满意", 90), (7.0, "控制不满意", 14)]
)
def test_dm_control_is_fpg_below_7(fpg: float, classification: str, days: int) -> None:
    # §1.3: glucose control is FPG <7.0, so exactly 7.0 is uncontrolled.
    result = dm_followup(dm(fpg=fpg, previous_classification="控制满意"))
    assert (result.classification, result.next_followup_max_days) == (classification, days)
    assert result.referral is False and result.urgent_referral is False


def test_dm_uncontrolled_twice_is_referred() -> None:
    result = dm_followup(dm(fpg=7.0, previous_classification="控制不满意"))
    assert result.referral is True and result.next_followup_max_days == 14


@pytest.mark.parametrize(
    ("fpg", "urgent"), [(3.8, True), (3.9, True), (4.0, False), (16.6, False), (16.7, True)]
)
def test_dm_urgent_glucose_limits_are_inclusive(fpg: float, urgent: bool) -> None:
    # §1.2/§1.3: ≥16.7 or ≤3.9 mmol/L.
    assert dm_followup(dm(fpg=fpg)).urgent_referral is urgent


@pytest.mark.parametrize(
    ("fpg", "urgent"), [(6.0, False), (6.1, True), (7.5, True)], ids=["normal", "6.1", "7.5"]
)
def test_dm_pregnant_or_breastfeeding_with_glucose_above_normal_is_urgent(
    fpg: float, urgent: bool
) -> None:
    """§1.2: pregnant or breastfeeding with glucose above normal (fasting ≥ 6.1, §4.2)."""
    result = dm_followup(dm(fpg=fpg, pregnant_or_lactating=True))
    assert result.urgent_referral is urgent
    assert ("妊娠期或哺乳期" in result.explanation) is urgent
    assert dm_followup(dm(fpg=7.5)).urgent_referral is False  # not pregnant: uncontrolled only


def test_dm_glucose_3_9_is_urgent_yet_controlled() -> None:
    result = dm_followup(dm(fpg=3.9))
    assert result.classification == "控制满意" and result.urgent_referral is True
    assert "3.9" in result.reason


@pytest.mark.parametrize(
    ("hr", "persistent", "urgent"),
    [(101, True, True), (100, True, False), (120, False, False), (None, False, False)],
)
def test_dm_persistent_tachycardia(hr: float | None, persistent: bool, urgent: bool) -> None:
    # §1.2: persistent tachycardia, HR >100/min.
    result = dm_followup(dm(hr=hr, hr_persistent=persistent))
    assert result.urgent_referral is urgent


def test_dm_a_fast_heart_rate_not_known_to_persist_is_warned_about() -> None:
    assert dm_followup(dm(hr=120)).warnings


def test_dm_persistent_without_a_heart_rate_is_refused() -> None:
    with pytest.raises(InputError) as error:
        dm(hr_persistent=True)
    assert error.value.field == "hr"


@pytest.mark.parametrize(("temperature", "urgent"), [(39.0, False), (39.1, True)])
def test_dm_fever_above_39(temperature: float, urgent: bool) -> None:
    assert dm_followup(dm(temperature_c=temperature)).urgent_referral is urgent


@pytest.mark.parametrize("symptom", ["多饮", "多尿", "呼气有烂苹果样丙酮味", "腹痛", "心悸"])
def test_dm_danger_symptoms(symptom: str) -> None:
    assert dm_followup(dm(symptoms=(symptom,))).urgent_referral is True


@pytest.mark.parametrize("symptoms", [(), ("无症状",), ("手脚麻木", "下肢浮肿")])
def test_dm_non_danger_symptoms(symptoms: tuple[str, ...]) -> None:
    assert dm_followup(dm(symptoms=symptoms)).urgent_referral is False


def test_dm_bp_limits_apply_too() -> None:
    assert dm_followup(dm(sbp=180)).urgent_referral is True
    assert dm_followup(dm(dbp=110)).urgent_referral is True
    assert dm_followup(dm(sbp=179, dbp=109)).urgent_referral is False


def test_dm_adverse_reaction_not_improving_is_referred() -> None:
    result = dm_followup(dm(adverse_reaction=True, adverse_reaction_hard_to_control=True))
    assert (result.classification, result.referral) == ("不良反应", True)


@pytest.mark.parametrize(("field", "value"), [("sbp", -10), ("age", 300), ("fpg", 0)])
def test_followup_refuses_impossible_values(field: str, value: float) -> None:
    with pytest.raises(InputError) as error:
        dm(**{field: value})
    assert error.value.field == field


@pytest.mark.parametrize(
    "symptom",
    [
        "无头痛，但有胸闷",
        "无明显不适，偶有心悸",
        "没有头晕，有视力模糊",
        "未见异常，近日恶心呕吐",
        "昏迷",
        "神志不清",
        "头痛剧烈",
        "严重头晕",
        "眼睛痛",
        "心慌",
        "喘憋，不能平卧",
        "胸闷无明显加重",  # still there
        "不停呕吐",
        "不断呕吐",
        "不规律服药后头痛剧烈、呕吐",
        "没吃降压药后心悸",
        "胸闷缓解后又加重",
        "胸闷缓解不明显",
        "心悸缓解后再发",
        "无明显诱因出现头晕、恶心、呕吐",
        "无心悸、有胸闷",
        "患者未诉不适，偶有心悸",
        "无头痛头晕偶感心悸",
        "未规律服药后头痛剧烈",
        "头痛欲裂",
        "视物不清",
        "胸口发闷",
        "心里发慌",
        "端坐呼吸",
        "叫不醒",
        "家属诉患者近日嗜睡",
        "除偶有心悸外无其他不适",
    ],
)
def test_htn_danger_signs_however_the_note_words_them(symptom: str) -> None:
    assert htn_followup(htn(symptoms=(symptom,))).urgent_referral is True


@pytest.mark.parametrize(
    "symptom",
    [
        "无头痛、胸闷",
        "否认胸闷心悸",
        "否认有胸闷",
        "胸闷已消失",
        "心悸没有了",
        "胸闷缓解",
        "头痛头晕",
        "患者无头痛、胸闷",
        "本次随访无胸闷、心悸等不适",
        "头痛、胸闷均无",
        "胸闷(-)，心悸(-)",
        "恶心呕吐：无",
        "未出现恶心呕吐",
        "不伴有恶心呕吐",
        "未自觉心悸",
        "胸闷、心悸未再发作",
        "心悸症状已消失",
        "不恶心，不胸闷",
        "嘱出现胸闷、心悸等不适及时就诊",
        "问：有无胸闷？答：无",
        "其母有心悸病史",
        "既往有晕厥史，此次无不适",
    ],
)
def test_htn_denied_or_mild_symptoms_do_not(symptom: str) -> None:
    assert htn_followup(htn(symptoms=(symptom,))).urgent_referral is False


@pytest.mark.parametrize(
    "symptom",
    [
        "昏迷",
        "神志不清",
        "呼吸深大",
        "心慌",
        "无口干，但多尿",
        "不停出汗",
        "纳差",
        "三多一少症状明显",
        "出冷汗",
        "肚子痛",
        "面色潮红",
        "低血糖反应：偶尔，表现为心慌出汗",
    ],
)
def test_dm_danger_signs_however_the_note_words_them(symptom: str) -> None:
    assert dm_followup(dm(symptoms=(symptom,))).urgent_referral is True

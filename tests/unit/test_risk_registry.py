"""The model registry: JSON in, the result envelope out, InputError naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from careloop.rules.risk.base import InputError
from careloop.rules.risk.registry import MODELS, UnknownModel, assess
from careloop.rules.risk.tcm import ITEMS, SAME_AS

# One valid input per model: the contract of `careloop assess`.
VALID: dict[str, dict[str, Any]] = {
    "china-par": {
        "sex": "male",
        "age": 40,
        "sbp_mmHg": 145,
        "on_antihypertensive": False,
        "waist_cm": 80,
        "tc_mmol_L": 5.2,
        "hdl_mmol_L": 1.3,
        "current_smoker": False,
        "diabetes": False,
        "region_north": True,
        "urban": True,
        "family_history_ascvd": True,
    },
    "cdrs": {
        "age": 60,
        "sex": "female",
        "sbp_mmHg": 120,
        "bmi": 22.0,
        "waist_cm": 75,
        "family_history_diabetes": False,
    },
    "findrisc": {
        "age": 50,
        "sex": "male",
        "bmi": 26.5,
        "waist_cm": 95,
        "physical_activity_30min_daily": True,
        "vegetables_fruit_daily": False,
        "antihypertensive_medication": False,
        "history_high_glucose": False,
        "family_history": "second_degree",
    },
    "bp-grade": {"sbp_mmHg": 140, "dbp_mmHg": 88, "on_antihypertensive": False},
    "bmi": {"height_cm": 170, "weight_kg": 69.36},
    "waist": {"sex": "female", "waist_cm": 82},
    "egfr": {"age": 50, "sex": "male", "creatinine_umol_L": 79.56},
    "glucose": {"fpg": 6.1, "ogtt_2h": 7.8, "hba1c_percent": None},
    "lipids": {"tc": 5.0, "ldl_c": 3.4, "hdl_c": 0.9, "tg": 1.7},
    "tcm-constitution": {
        "sex": "female",
        "answers": {k: 1.0 for k in ITEMS if k not in SAME_AS},
    },
    "htn-followup": {
        "age": 60,
        "sbp": 150,
        "dbp": 85,
        "symptoms": ["头痛头晕"],
        "pregnant_or_lactating": False,
        "adverse_reaction": False,
        "adverse_reaction_hard_to_control": False,
        "new_or_worse_complication": False,
        "previous_classification": "控制不满意",
    },
    "dm-followup": {
        "age": 60,
        "sbp": 130,
        "dbp": 80,
        "fpg": 7.0,
        "hr": 80,
        "hr_persistent": False,
        "symptoms": [],
        "adverse_reaction": False,
        "adverse_reaction_hard_to_control": False,
        "new_or_worse_complication": False,
        "previous_classification": None,
    },
}

VALID["htn-high-risk"] = {
    "age": 56,
    "sex": "female",
    "sbp_mmHg": 132,
    "dbp_mmHg": 82,
    "bmi": 23.0,
    "waist_cm": 80,
    "family_history_hypertension": False,
    "high_salt_diet": True,
    "spirits_ml_per_day": 0,
}

OUTPUT_KEYS = {
    "china-par": {"risk10_percent", "category"},
    "cdrs": {"total", "high_risk"},
    "findrisc": {"total", "category"},
    "bp-grade": {"category", "isolated_systolic_hypertension"},
    "bmi": {"bmi", "category"},
    "waist": {"category"},
    "egfr": {"egfr_ckd_epi_2021", "egfr_ckd_epi_2009", "category"},
    "glucose": {"glucose_category", "hba1c_ge_6_5"},
    "lipids": {"tc", "ldl_c", "tg", "non_hdl_c", "hdl_c", "non_hdl_c_value"},
    "tcm-constitution": {"converted", "verdicts", "constitutions", "category", "regimen"},
    "htn-high-risk": {"category", "factors", "unknown"},
    "htn-followup": {
        "classification",
        "urgent_referral",
        "referral",
        "next_followup_max_days",
        "action",
        "reason",
    },
    "dm-followup": {
        "classification",
        "urgent_referral",
        "referral",
        "next_followup_max_days",
        "action",
        "reason",
    },
}


def test_every_model_of_the_contract_is_registered() -> None:
    assert set(MODELS) == set(VALID) == set(OUTPUT_KEYS)


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_model_returns_the_envelope(name: str) -> None:
    result = assess(name, VALID[name])
    assert OUTPUT_KEYS[name] <= set(result)
    assert result["model"] == name
    assert result["version"] and isinstance(result["version"], str)
    assert isinstance(result["explanation"], str) and result["explanation"]
    assert result["warnings"] == []
    for key, value in VALID[name].items():
        assert result["inputs"][key] == value
    json.dumps(result, ensure_ascii=False)  # JSON-ready as it is


def test_the_contract_outputs_for_the_sample_inputs() -> None:
    # Each derived by hand from REFERENCE: see the per-model unit tests for the arithmetic.
    assert assess("cdrs", VALID["cdrs"])["total"] == 25
    assert assess("findrisc", VALID["findrisc"])["total"] == 2 + 1 + 3 + 1 + 3  # 10
    assert assess("bp-grade", VALID["bp-grade"])["category"] == "1级高血压"
    assert assess("bmi", VALID["bmi"])["category"] == "超重"
    assert assess("egfr", VALID["egfr"])["category"] == "G1"
    assert assess("glucose", VALID["glucose"])["glucose_category"] == "IGT"
    lipids = assess("lipids", VALID["lipids"])
    assert (lipids["non_hdl_c"], lipids["non_hdl_c_value"], lipids["tg"]) == (
        "边缘升高",
        4.1,
        "边缘升高",
    )
    assert assess("htn-followup", VALID["htn-followup"])["referral"] is True
    assert assess("dm-followup", VALID["dm-followup"])["classification"] == "控制不满意"


def test_unknown_models_are_refused() -> None:
    with pytest.raises(UnknownModel):
        assess("framingham", {})


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("china-par", {"age": None}, "age"),
        ("china-par", {"age": 300}, "age"),
        ("china-par", {"age": "60"}, "age"),
        ("china-par", {"sex": "man"}, "sex"),
        ("china-par", {"diabetes": 1}, "diabetes"),
        ("china-par", {"diabetes": "true"}, "diabetes"),
        ("china-par", {"sbp_mmHg": True}, "sbp_mmHg"),
        ("china-par", {"sbp_mmHg": -120}, "sbp_mmHg"),
        ("china-par", {"tc_mmol_L": 10**400}, "tc_mmol_L"),
        ("findrisc", {"family_history": "cousin"}, "family_history"),
        ("bp-grade", {"dbp_mmHg": -1}, "dbp_mmHg"),
        ("htn-followup", {"symptoms": "胸闷"}, "symptoms"),
        ("htn-followup", {"symptoms": [1]}, "symptoms"),
        ("htn-followup", {"previous_classification": "不良反应"}, "previous_classification"),
        ("glucose", {"fpg": None, "ogtt_2h": None, "hba1c_percent": None}, "fpg"),
        ("egfr", {"creatinine_umol_L": 0}, "creatinine_umol_L"),
    ],
)
def test_bad_values_name_their_field(name: str, change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as error:
        assess(name, {**VALID[name], **change})
    assert error.value.field == field
    assert str(error.value).startswith(field)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("china-par", "age"),
        ("bmi", "weight_kg"),
        ("dm-followup", "fpg"),
        ("htn-followup", "symptoms"),
    ],
)
def test_missing_fields_are_named(name: str, field: str) -> None:
    data = dict(VALID[name])
    del data[field]
    with pytest.raises(InputError, match=f"^{field} is required"):
        assess(name, data)


def test_optional_fields_may_be_left_out() -> None:
    assert assess("glucose", {"hba1c_percent": 6.5})["hba1c_ge_6_5"] is True
    assert assess("lipids", {"ldl_c": 4.1})["ldl_c"] == "升高"
    followup = dict(VALID["dm-followup"])
    for optional in ("hr", "hr_persistent", "previous_classification"):
        del followup[optional]
    assert assess("dm-followup", followup)["classification"] == "控制不满意"
    woman = {
        k: v for k, v in VALID["china-par"].items() if k not in ("urban", "family_history_ascvd")
    }
    assert assess("china-par", {**woman, "sex": "female"})["category"] in {"低危", "中危", "高危"}


def test_existing_ascvd_needs_no_risk_factors() -> None:
    result = assess("china-par", {"existing_ascvd": True})
    assert (result["risk10_percent"], result["category"]) == (None, "极高危")


def test_unknown_keys_are_ignored_with_a_warning() -> None:
    result = assess("bp-grade", {**VALID["bp-grade"], "heart_rate": 70})
    assert result["category"] == "1级高血压"
    assert "heart_rate" in result["warnings"][0]


def test_the_input_must_be_an_object() -> None:
    with pytest.raises(InputError, match="JSON object"):
        assess("bmi", [170, 60])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_help_text_names_every_input(name: str) -> None:
    model = MODELS[name]
    for field in model.fields():
        assert field in model.inputs, field

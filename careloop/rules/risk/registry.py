"""Model names → (input type, function), and turning decoded JSON into a model's input.

This is the contract of ``careloop assess MODEL --input JSON``: the names below and the field
names of each input dataclass are the JSON keys. JSON is checked against the dataclass's type
hints (booleans must be JSON booleans, numbers int or float, enums one of their values, lists of
strings); a field with a default may be left out; ranges are checked by the input itself.
Keys a model does not know are ignored and reported in ``warnings``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from careloop.rules.risk.base import InputError, ModelResult
from careloop.rules.risk.blood_pressure import BpInput, bp_grade
from careloop.rules.risk.bmi import BmiInput, bmi_class
from careloop.rules.risk.cdrs import CdrsInput, cdrs_score
from careloop.rules.risk.china_par import ChinaParInput, china_par_risk
from careloop.rules.risk.egfr import EgfrInput, egfr_stage
from careloop.rules.risk.findrisc import FindriscInput, findrisc_score
from careloop.rules.risk.followup import (
    DmFollowupInput,
    HtnFollowupInput,
    dm_followup,
    htn_followup,
)
from careloop.rules.risk.glucose import GlucoseInput, glucose_category
from careloop.rules.risk.htn_high_risk import HtnHighRiskInput, htn_high_risk
from careloop.rules.risk.lipids import LipidInput, lipid_categories
from careloop.rules.risk.tcm import TcmInput, tcm_constitution
from careloop.rules.risk.waist import WaistInput, waist_class


class UnknownModel(KeyError):
    pass


@dataclass(frozen=True)
class Model:
    name: str
    input_type: type
    run: Callable[[Any], ModelResult]
    summary: str
    inputs: str  # for --help: required inputs, then optional ones in [brackets]

    def fields(self) -> list[str]:
        return [item.name for item in dataclasses.fields(self.input_type)]


MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        Model(
            "china-par",
            ChinaParInput,
            china_par_risk,
            "China-PAR 10-year ASCVD risk (REFERENCE §2)",
            "sex (male|female), age (20-85), sbp_mmHg (70-200), on_antihypertensive, "
            "waist_cm (50-130), tc_mmol_L (2-11), hdl_mmol_L (0.5-4), current_smoker, "
            "diabetes, region_north, urban, family_history_ascvd (urban and "
            "family_history_ascvd may be left out for women) [existing_ascvd: true means "
            "not scored, 极高危, and nothing else is needed]",
        ),
        Model(
            "cdrs",
            CdrsInput,
            cdrs_score,
            "Chinese diabetes risk score (§3.1)",
            "age (20-74), sex, sbp_mmHg, bmi, waist_cm, family_history_diabetes",
        ),
        Model(
            "findrisc",
            FindriscInput,
            findrisc_score,
            "FINDRISC diabetes risk score (§3.2)",
            "age, sex, bmi, waist_cm, physical_activity_30min_daily, vegetables_fruit_daily, "
            "antihypertensive_medication, history_high_glucose, "
            "family_history (none|second_degree|first_degree)",
        ),
        Model(
            "bp-grade",
            BpInput,
            bp_grade,
            "office BP grade, 2018 Chinese guideline, or the 2022 one (§4.1)",
            "sbp_mmHg, dbp_mmHg, on_antihypertensive [standard (2018|2022), default 2018]",
        ),
        Model(
            "bmi",
            BmiInput,
            bmi_class,
            "BMI and its Chinese adult class (§4.1)",
            "height_cm, weight_kg",
        ),
        Model(
            "waist",
            WaistInput,
            waist_class,
            "waist circumference and central obesity, Chinese adults (§4.1)",
            "sex (male|female), waist_cm",
        ),
        Model(
            "egfr",
            EgfrInput,
            egfr_stage,
            "eGFR CKD-EPI 2021 and 2009, CKD stage (§4.4)",
            "age (18-120), sex, creatinine_umol_L",
        ),
        Model(
            "glucose",
            GlucoseInput,
            glucose_category,
            "glucose category, WHO 1999 (§4.2)",
            "[fpg, ogtt_2h (mmol/L), hba1c_percent (%): each may be null or left out; "
            "at least one]",
        ),
        Model(
            "lipids",
            LipidInput,
            lipid_categories,
            "lipid categories, 2016 guideline (§4.3)",
            "[tc, ldl_c, hdl_c, tg (mmol/L): each may be null or left out; at least one]",
        ),
        Model(
            "tcm-constitution",
            TcmInput,
            tcm_constitution,
            "中医体质分类与判定 ZYYXH/T 157-2009: nine constitutions",
            "sex (male|female), answers: {A1…I7: 1-5} (A 平和质 … I 特禀质; a question shared "
            "by two constitutions may be given under either key)",
        ),
        Model(
            "htn-high-risk",
            HtnHighRiskInput,
            htn_high_risk,
            "hypertension high-risk people, BPHS 3rd edition (§1.1): six factors",
            "age (35-120), sex (male|female) [sbp_mmHg, dbp_mmHg, bmi, waist_cm, "
            "family_history_hypertension, high_salt_diet, spirits_ml_per_day: each may be "
            "left out (counted absent, named as unknown); hypertension: true when diagnosed]",
        ),
        Model(
            "htn-followup",
            HtnFollowupInput,
            htn_followup,
            "BPHS hypertension follow-up classification (§1.1, §1.3)",
            "age, sbp, dbp, symptoms (list, may be empty), pregnant_or_lactating, "
            "adverse_reaction, adverse_reaction_hard_to_control, new_or_worse_complication "
            "[previous_classification (控制满意|控制不满意|null), other_emergency]",
        ),
        Model(
            "dm-followup",
            DmFollowupInput,
            dm_followup,
            "BPHS type 2 diabetes follow-up classification (§1.2, §1.3)",
            "age, sbp, dbp, fpg, symptoms (list, may be empty), adverse_reaction, "
            "adverse_reaction_hard_to_control, new_or_worse_complication "
            "[previous_classification, hr (/min, null), hr_persistent (default false), "
            "temperature_c (null), pregnant_or_lactating (default false), other_emergency]",
        ),
    )
}


def get_model(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModel(name) from None


def parse_input(model: Model, data: object) -> tuple[Any, list[str]]:
    """The model's input object from decoded JSON, and the keys it ignored.

    Raises InputError naming the first field that is missing, of the wrong type or out of range.
    """
    if not isinstance(data, Mapping):
        raise InputError("input", "must be a JSON object")
    hints = _hints(model.input_type)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(model.input_type):
        if item.name not in data:
            has_default = (
                item.default is not dataclasses.MISSING
                or item.default_factory is not dataclasses.MISSING
            )
            if not has_default:
                raise InputError(item.name, "is required")
            continue
        values[item.name] = _coerce(item.name, data[item.name], hints[item.name])
    known = set(model.fields())
    ignored = sorted(str(key) for key in data if key not in known)
    return model.input_type(**values), ignored


def assess(name: str, data: object) -> dict[str, Any]:
    """Validate ``data`` for model ``name``, run it and return the JSON-ready result."""
    model = get_model(name)
    inputs, ignored = parse_input(model, data)
    result = model.run(inputs).as_dict()
    if ignored:
        result["warnings"].append(f"已忽略本模型不使用的输入项：{'、'.join(ignored)}")
    return result


@functools.cache
def _hints(input_type: type) -> dict[str, Any]:
    return typing.get_type_hints(input_type)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _coerce(name, value, inner)
    if value is None:
        raise InputError(name, "must not be null")
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(name, "must be true or false (a JSON boolean)")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(name, "must be a number")
        try:
            return float(value)
        except OverflowError:
            raise InputError(name, "is far out of range") from None
    if origin is Literal:
        if not isinstance(value, str) or value not in args:
            raise InputError(name, f"must be one of: {', '.join(map(str, args))}")
        return value
    if origin is dict:
        numbers = isinstance(value, Mapping) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        )
        if not numbers:
            raise InputError(name, "must be an object of numbers")
        return {str(key): float(item) for key, item in value.items()}
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InputError(name, "must be a list of strings")
        return tuple(value)
    raise TypeError(f"no JSON rule for {name}: {hint!r}")  # a programming error, not input

"""Clinical models as pure functions (REFERENCE.md §1–§4): no Django, no database.

Each model takes a frozen input dataclass (its fields are the JSON keys of
``careloop assess``), checks its ranges on construction (``InputError`` names the field) and
returns a ``ModelResult`` with its inputs, result fields, model version and a plain-Chinese
explanation. ``registry.MODELS`` maps the command's model names to them.
"""

from careloop.rules.risk.base import InputError, ModelResult
from careloop.rules.risk.blood_pressure import BpInput, BpResult, bp_grade
from careloop.rules.risk.bmi import BmiInput, BmiResult, bmi_class
from careloop.rules.risk.cdrs import CdrsInput, CdrsResult, cdrs_score
from careloop.rules.risk.china_par import ChinaParInput, ChinaParResult, china_par_risk
from careloop.rules.risk.egfr import EgfrInput, EgfrResult, egfr_stage
from careloop.rules.risk.findrisc import FindriscInput, FindriscResult, findrisc_score
from careloop.rules.risk.followup import (
    DmFollowupInput,
    DmFollowupResult,
    HtnFollowupInput,
    HtnFollowupResult,
    dm_followup,
    htn_followup,
)
from careloop.rules.risk.glucose import GlucoseInput, GlucoseResult, glucose_category
from careloop.rules.risk.lipids import LipidInput, LipidResult, lipid_categories
from careloop.rules.risk.registry import MODELS, UnknownModel, assess

__all__ = [
    "MODELS",
    "BmiInput",
    "BmiResult",
    "BpInput",
    "BpResult",
    "CdrsInput",
    "CdrsResult",
    "ChinaParInput",
    "ChinaParResult",
    "DmFollowupInput",
    "DmFollowupResult",
    "EgfrInput",
    "EgfrResult",
    "FindriscInput",
    "FindriscResult",
    "GlucoseInput",
    "GlucoseResult",
    "HtnFollowupInput",
    "HtnFollowupResult",
    "InputError",
    "LipidInput",
    "LipidResult",
    "ModelResult",
    "UnknownModel",
    "assess",
    "bmi_class",
    "bp_grade",
    "cdrs_score",
    "china_par_risk",
    "dm_followup",
    "egfr_stage",
    "findrisc_score",
    "glucose_category",
    "htn_followup",
    "lipid_categories",
]

"""Unit conversion to the catalogue's normalised units. Pure functions.

Chinese laboratories report SI units (mmol/L, μmol/L); results from elsewhere may come in
mg/dL. Factors: glucose 18.0 mg/dL per mmol/L; cholesterols (TC, LDL-C, HDL-C, non-HDL-C)
mmol/L = mg/dL × 0.0259 (REFERENCE.md §2.1: mg/dL = mmol/L ÷ 0.0259); triglycerides
mmol/L = mg/dL × 0.0113; creatinine μmol/L = mg/dL × 88.4 (REFERENCE.md §4.4); uric acid
μmol/L = mg/dL × 59.48; total bilirubin μmol/L = mg/dL × 17.1 (molar mass 584.7 g/mol).
Potassium, sodium and chloride carry one charge: 1 mEq/L is 1 mmol/L. Haemoglobin 1 g/dL is
10 g/L (Chinese laboratories report g/L, the unit of its critical values, REFERENCE.md §4.5).
Calcium (total and ionised) mmol/L = mg/dL ÷ 4.008 (molar mass 40.08 g/mol). Blood gases:
1 kPa is 760/101.325 = 7.50062 mmHg (REFERENCE.md §4.5 gives the PaO₂ and PaCO₂ critical
values in both: <45 mmHg (6 kPa), <20 (2.66) and >70 (9.33)).
"""

from __future__ import annotations

import functools

GLUCOSE = {"14771-0", "1558-6", "14749-6", "2345-7", "15074-8", "2339-0", "41653-7"}
CHOLESTEROL = {
    "14647-2",
    "2093-3",
    "22748-8",
    "2089-1",
    "13457-7",
    "18262-6",
    "14646-4",
    "2085-9",
    "43396-1",
}
TRIGLYCERIDES = {"14927-8", "2571-8"}
CREATININE = {"14682-9", "2160-0"}
URIC_ACID = {"14933-6", "3084-1"}
BILIRUBIN = {"14631-6", "1975-2"}
MONOVALENT_IONS = {"2823-3", "6298-4", "2951-2", "2947-0", "2075-0", "2069-3"}
HAEMOGLOBIN = {"718-7"}
CALCIUM = {"2000-8", "1994-3"}  # total, ionised
BLOOD_GAS_PRESSURES = {"2703-7", "2019-8"}  # PaO2, PaCO2
MMHG_PER_KPA = 760 / 101.325
# Body weight, and body height and waist (the FHIR vital-signs profile allows g and [lb_av],
# and [in_i]: such a weight was stored unconverted, so read by neither BMI nor the risk models)
WEIGHT = {"29463-7", "3141-9"}
LENGTHS = {"8302-2", "8280-0"}

# (analyte codes, from unit, to unit, factor): value_to = value_from × factor
_FACTORS: list[tuple[set[str], str, str, float]] = [
    (GLUCOSE, "mg/dl", "mmol/l", 1 / 18.0),
    (CHOLESTEROL, "mg/dl", "mmol/l", 0.0259),
    (TRIGLYCERIDES, "mg/dl", "mmol/l", 0.0113),
    (CREATININE, "mg/dl", "umol/l", 88.4),
    (URIC_ACID, "mg/dl", "umol/l", 59.48),
    (BILIRUBIN, "mg/dl", "umol/l", 17.1),
    (MONOVALENT_IONS, "meq/l", "mmol/l", 1.0),
    (HAEMOGLOBIN, "g/dl", "g/l", 10.0),
    (CALCIUM, "mg/dl", "mmol/l", 1 / 4.008),
    (BLOOD_GAS_PRESSURES, "kpa", "mmhg", MMHG_PER_KPA),
    (WEIGHT, "g", "kg", 0.001),
    (WEIGHT, "[lb_av]", "kg", 0.45359237),
    (WEIGHT, "斤", "kg", 0.5),
    (LENGTHS, "m", "cm", 100.0),
    (LENGTHS, "mm", "cm", 0.1),
    (LENGTHS, "[in_i]", "cm", 2.54),
]
_SPELLINGS = {
    "umol/l": "umol/l",
    "mmol/l": "mmol/l",
    "meq/l": "meq/l",
    "mg/dl": "mg/dl",
    "mg%": "mg/dl",
    "g/l": "g/l",
    "g/dl": "g/dl",
    "u/l": "u/l",
    "iu/l": "u/l",
    "mmhg": "mmhg",
    "mm[hg]": "mmhg",
    "%": "%",
    "cm": "cm",
    "厘米": "cm",
    "kg": "kg",
    "千克": "kg",
    "公斤": "kg",
    "克": "g",
    "[lb_av]": "[lb_av]",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "米": "m",
    "毫米": "mm",
    "[in_i]": "[in_i]",
    "in": "[in_i]",
    "/min": "/min",
    "bpm": "/min",
    "次/分": "/min",
    "次/分钟": "/min",
    "kg/m2": "kg/m2",
    "kg/m^2": "kg/m2",
    "kg/㎡": "kg/m2",
    "10*9/l": "10*9/l",
    "10^9/l": "10*9/l",
    "x10*9/l": "10*9/l",
    "x10^9/l": "10*9/l",
    # 10³/µL is 10⁹/L: counts as US-style laboratories report them
    "10*3/ul": "10*9/l",
    "10^3/ul": "10*9/l",
    "x10*3/ul": "10*9/l",
    "x10^3/ul": "10*9/l",
    "k/ul": "10*9/l",
    "ng/ml": "ng/ml",
    "ng/l": "ng/l",
    "miu/l": "miu/l",
    "uiu/ml": "miu/l",
    "{inr}": "{inr}",
    "inr": "{inr}",  # an INR and a pH have no unit; laboratories write their names
    "[ph]": "[ph]",
    "ph": "[ph]",
    "s": "s",
    "sec": "s",
    "秒": "s",
    "ml/min/1.73m2": "ml/min/1.73m2",
    "ml/min/1.73m^2": "ml/min/1.73m2",
    "ml/min/{1.73_m2}": "ml/min/1.73m2",  # UCUM, as FHIR senders write it
    "ml/min/{1.73m2}": "ml/min/1.73m2",
}


class UnitError(ValueError):
    """The unit cannot be converted to the catalogue's unit for this item."""


# Before the look-up: the micro sign (U+00B5) and the Greek mu (U+03BC) are both "u",
# superscript powers are written with "^", and "×" is "x" (laboratory systems print
# "×10⁹/L", "µIU/mL", "mL/min/1.73m²").
_FOLD = str.maketrans({"µ": "u", "μ": "u", "²": "^2", "³": "^3", "⁹": "^9", "×": "x"})


@functools.lru_cache(maxsize=1024)
def canonical_unit(unit: str) -> str:
    key = (unit or "").strip().replace(" ", "").lower().translate(_FOLD)
    return _SPELLINGS.get(key, key)


def convert(code: str, value: float, unit: str, target: str) -> float:
    """``value`` in ``unit`` expressed in ``target`` (the item's normalised unit)."""
    source, goal = canonical_unit(unit), canonical_unit(target)
    if not source or source == goal:
        return value
    for codes, from_unit, to_unit, factor in _FACTORS:
        if code in codes:
            if (source, goal) == (from_unit, to_unit):
                return value * factor
            if (source, goal) == (to_unit, from_unit):
                return value / factor
    raise UnitError(f"cannot convert {unit!r} to {target!r} for {code}")

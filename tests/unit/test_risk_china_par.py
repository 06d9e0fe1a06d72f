"""China-PAR 10-year ASCVD risk against REFERENCE.md §2: the paper's worked example and
Table 2, the 2019 guideline example, official-calculator captures, and the category rules.

Tolerances are REFERENCE §2.4's: ±0.3 pp for the paper and guideline examples, ±0.5 pp for
official-calculator captures, and exact category agreement.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careloop.rules.risk import china_par
from careloop.rules.risk.base import InputError
from careloop.rules.risk.china_par import (
    MEN,
    WOMEN,
    ChinaParInput,
    categorise,
    china_par_risk,
    linear_predictor,
    risk_from_predictor,
)

MMOL_PER_MG_DL = 0.0259  # REFERENCE §2.1: mg/dL = mmol/L ÷ 0.0259


def mmol(mg_dl: float) -> float:
    """The paper and the official captures give cholesterol in mg/dL; the model takes mmol/L."""
    return mg_dl * MMOL_PER_MG_DL


def person(**changes: Any) -> ChinaParInput:
    """The paper's worked-example profile (REFERENCE §2.1), as ChinaParInput."""
    base: dict[str, Any] = dict(
        sex="male",
        age=60,
        sbp_mmHg=130,
        on_antihypertensive=False,
        waist_cm=80,
        tc_mmol_L=mmol(210),
        hdl_mmol_L=mmol(55),
        current_smoker=False,
        diabetes=True,
        region_north=True,
        urban=True,
        family_history_ascvd=False,
    )
    base.update(changes)
    return ChinaParInput(**base)


def test_the_papers_worked_example_man_gives_its_terms_sum_and_risk() -> None:
    result = china_par_risk(person())
    # REFERENCE §2.1: 130.88 + 127.28 + 3.32 − 2.78 − 3.12 + 0.36 + 0.48 − 0.16 − 114.21 = 142.04
    assert result.sum_beta_x == pytest.approx(142.04, abs=0.02)
    # Risk = 1 − 0.9707^exp(142.04 − 140.68) = 11.0 %
    assert result.risk10_percent == pytest.approx(11.0, abs=0.3)
    assert result.category == "高危"
    assert result.scored is True
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("sex", "age", "published", "category"),
    [
        # REFERENCE §2.1, the paper's Table 2: same profile at ages 40/50/60/70.
        ("male", 40, 2.2, "低危"),
        ("male", 50, 5.4, "中危"),
        ("male", 60, 11.0, "高危"),
        ("male", 70, 19.6, "高危"),
        ("female", 40, 2.4, "低危"),
        ("female", 50, 5.4, "中危"),
        ("female", 60, 10.1, "高危"),
        ("female", 70, 17.1, "高危"),
    ],
)
def test_the_papers_table_2(sex: str, age: int, published: float, category: str) -> None:
    result = china_par_risk(person(sex=sex, age=age))
    assert result.risk10_percent == pytest.approx(published, abs=0.3)
    assert result.category == category


def test_the_papers_woman_at_60_has_the_published_sum() -> None:
    # REFERENCE §2.1: "women's sum at 60 = 119.22".
    assert china_par_risk(person(sex="female")).sum_beta_x == pytest.approx(119.22, abs=0.02)


def test_the_2019_guideline_example_is_low_risk_at_4_7_percent() -> None:
    # REFERENCE §2.2 Appendix 1: 40-year-old northern urban man, waist 80, TC 5.2, HDL-C 1.3,
    # BP 145/80 untreated, no diabetes, non-smoker, family history yes → 4.7 % (低危).
    result = china_par_risk(
        person(
            age=40,
            sbp_mmHg=145,
            tc_mmol_L=5.2,
            hdl_mmol_L=1.3,
            diabetes=False,
            family_history_ascvd=True,
        )
    )
    assert result.risk10_percent == pytest.approx(4.7, abs=0.3)
    assert result.category == "低危"


def ideal(sex: str, age: int, north: bool, urban: bool) -> ChinaParInput:
    """The official site's ideal risk-factor state (REFERENCE §2.2): TC 200 mg/dL, HDL-C 40,
    SBP 120 untreated, waist 90 (men) / 85 (women), no diabetes, smoking or family history."""
    return ChinaParInput(
        sex=sex,  # type: ignore[arg-type]
        age=age,
        sbp_mmHg=120,
        on_antihypertensive=False,
        waist_cm=90 if sex == "male" else 85,
        tc_mmol_L=mmol(200),
        hdl_mmol_L=mmol(40),
        current_smoker=False,
        diabetes=False,
        region_north=north,
        urban=urban,
        family_history_ascvd=False,
    )


@pytest.mark.parametrize(
    ("sex", "age", "north", "urban", "published"),
    [
        # The guideline example's ideal-state 10-year risk (REFERENCE §2.2): 1.1 %.
        ("male", 40, True, True, 1.1),
        # Official captures, original123/cardiovascular-risk-demo
        # docs/research/ideal_risk_samples.jsonl (REFERENCE §2.3's source): ideal10.
        ("male", 40, False, False, 0.8),
        ("female", 50, True, False, 2.9),
    ],
)
def test_ideal_state_risks(sex: str, age: int, north: bool, urban: bool, published: float) -> None:
    result = china_par_risk(ideal(sex, age, north, urban))
    assert result.risk10_percent == pytest.approx(published, abs=0.3)
    assert result.category == "低危"


# Official cvdrisk.com.cn outputs captured in original123/cardiovascular-risk-demo
# docs/research/lifetime_fit_samples.jsonl (the captures REFERENCE §2.3 validates against).
# (sex, age, north, urban, waist, TC mg/dL, HDL mg/dL, SBP, treated, diabetes, smoker,
#  family history, official risk10 %, official category)
OFFICIAL = [
    ("male", 38, True, True, 65, 380, 75, 115, True, True, True, True, 9.9, "中危"),
    ("male", 46, False, False, 90, 240, 125, 180, False, True, True, False, 8.7, "中危"),
    ("male", 47, True, False, 125, 220, 30, 180, False, False, False, False, 14.0, "高危"),
    ("male", 48, False, False, 85, 200, 60, 160, False, False, False, False, 4.6, "低危"),
    ("female", 52, True, False, 90, 120, 60, 145, True, True, False, False, 12.5, "高危"),
    ("female", 58, False, True, 105, 200, 100, 145, True, False, False, True, 6.4, "中危"),
    ("female", 45, True, False, 115, 240, 50, 135, False, True, False, True, 7.2, "中危"),
    ("female", 47, True, False, 75, 200, 30, 198, False, False, False, True, 9.5, "中危"),
    ("female", 41, True, False, 90, 380, 30, 125, True, False, True, True, 4.8, "低危"),
]


@pytest.mark.parametrize(
    ("sex", "age", "north", "urban", "waist", "tc", "hdl", "sbp", "treated", "dm", "smoker",
     "family", "official", "category"),
    OFFICIAL,
)  # fmt: skip
def test_official_calculator_captures(
    sex: str,
    age: int,
    north: bool,
    urban: bool,
    waist: float,
    tc: float,
    hdl: float,
    sbp: float,
    treated: bool,
    dm: bool,
    smoker: bool,
    family: bool,
    official: float,
    category: str,
) -> None:
    result = china_par_risk(
        ChinaParInput(
            sex=sex,  # type: ignore[arg-type]
            age=age,
            sbp_mmHg=sbp,
            on_antihypertensive=treated,
            waist_cm=waist,
            tc_mmol_L=mmol(tc),
            hdl_mmol_L=mmol(hdl),
            current_smoker=smoker,
            diabetes=dm,
            region_north=north,
            urban=urban,
            family_history_ascvd=family,
        )
    )
    assert result.risk10_percent == pytest.approx(official, abs=0.5)
    assert result.category == category


def test_a_male_smoker_with_family_history_on_treatment_has_risk_falling_with_age() -> None:
    # The published interactions (ln age × ln SBP, × smoker, × family history) make the risk
    # fall with age for this profile, and the official calculator does the same: 39.2 % at
    # 40 and 24.1 % at 70 (ideal_risk_samples.jsonl: south, rural, waist 110, TC 300 mg/dL,
    # HDL-C 30 mg/dL, SBP 160 treated, diabetes, smoker, family history).
    def at(age: int) -> float:
        result = china_par_risk(
            person(
                age=age,
                region_north=False,
                urban=False,
                waist_cm=110,
                tc_mmol_L=mmol(300),
                hdl_mmol_L=mmol(30),
                sbp_mmHg=160,
                on_antihypertensive=True,
                current_smoker=True,
                family_history_ascvd=True,
            )
        )
        assert result.risk10_percent is not None
        return result.risk10_percent

    assert at(40) == pytest.approx(39.2, abs=0.5)
    assert at(70) == pytest.approx(24.1, abs=0.5)


def test_the_womens_model_ignores_urban_and_family_history() -> None:
    # REFERENCE §5.2: no urban and no family-history term for women; both may be left out.
    woman = person(sex="female")
    variants = [
        dataclasses.replace(woman, urban=urban, family_history_ascvd=family)
        for urban in (True, False, None)
        for family in (True, False, None)
    ]
    risks = {china_par_risk(item).risk10_percent for item in variants}
    assert len(risks) == 1
    assert "家族史" not in china_par_risk(woman).explanation.split("。")[0]


def test_men_need_urban_and_family_history() -> None:
    with pytest.raises(InputError) as error:
        person(urban=None)
    assert error.value.field == "urban"
    with pytest.raises(InputError) as error:
        person(family_history_ascvd=None)
    assert error.value.field == "family_history_ascvd"


def test_cholesterol_converts_with_0_0259() -> None:
    # REFERENCE §5.1: 1/0.0259 = 38.61, not 38.67.
    assert round(china_par.MG_DL_PER_MMOL_L, 2) == 38.61
    assert mmol(210) * china_par.MG_DL_PER_MMOL_L == pytest.approx(210)


def test_the_refined_and_printed_coefficients_are_the_references() -> None:
    # REFERENCE §2.1 table; refined men's values round back to the printed ones.
    assert (MEN.ln_age, MEN.ln_sbp_untreated, MEN.ln_tc, MEN.ln_hdl, MEN.ln_waist) == (
        31.96604,
        26.14876,
        0.62090,
        -0.69373,
        -0.71200,
    )
    assert MEN.ln_age_x_ln_sbp_untreated == -5.73074
    assert (MEN.mean, MEN.s10) == (140.68, 0.9707)
    assert (WOMEN.mean, WOMEN.s10) == (117.26, 0.985)
    assert WOMEN.urban == WOMEN.family_history == 0


@pytest.mark.parametrize(
    ("risk", "category"),
    [(0.0, "低危"), (4.9, "低危"), (5.0, "中危"), (9.9, "中危"), (10.0, "高危"), (64.2, "高危")],
)
def test_category_edges(risk: float, category: str) -> None:
    # REFERENCE §2.2: <5.0 低危; 5.0–9.9 中危; ≥10.0 高危.
    assert categorise(risk) == category


@pytest.mark.parametrize(
    ("raw", "shown", "category"),
    [
        (4.949, 4.9, "低危"),
        (4.95, 5.0, "中危"),  # REFERENCE §2.3: "A raw 4.98 becomes 5.0 and moves to 中危"
        (4.98, 5.0, "中危"),
        (9.949, 9.9, "中危"),
        (9.95, 10.0, "高危"),
    ],
)
def test_the_risk_is_rounded_to_0_1_before_it_is_categorised(
    monkeypatch: pytest.MonkeyPatch, raw: float, shown: float, category: str
) -> None:
    monkeypatch.setattr(china_par, "risk_from_predictor", lambda coefficients, total: raw)
    result = china_par_risk(person())
    assert (result.risk10_percent, result.category) == (shown, category)


def test_a_real_profile_just_under_5_percent_shows_5_0_and_is_medium() -> None:
    # The guideline man with waist 78 instead of 80: the §2.1 equation gives a raw 4.95–5.0 %.
    profile = person(
        age=40,
        sbp_mmHg=145,
        waist_cm=78,
        tc_mmol_L=5.2,
        hdl_mmol_L=1.3,
        diabetes=False,
        family_history_ascvd=True,
    )
    raw = risk_from_predictor(
        MEN,
        linear_predictor(
            MEN,
            age=40,
            sbp_mmHg=145,
            treated=False,
            tc_mg_dl=5.2 / MMOL_PER_MG_DL,
            hdl_mg_dl=1.3 / MMOL_PER_MG_DL,
            waist_cm=78,
            smoker=False,
            diabetes=False,
            north=True,
            urban=True,
            family_history=True,
        ),
    )
    assert 4.95 <= raw < 5.0
    result = china_par_risk(profile)
    assert (result.risk10_percent, result.category) == (5.0, "中危")


def test_existing_ascvd_is_very_high_and_not_scored() -> None:
    # REFERENCE §2.2: patients who already have CVD are 极高危 and are not scored.
    result = china_par_risk(ChinaParInput(existing_ascvd=True, sex="male", age=60))
    assert result.scored is False
    assert result.risk10_percent is None
    assert result.category == "极高危"
    assert "不再用China-PAR评估" in result.explanation


@pytest.mark.parametrize("age", [20, 34, 75, 85])
def test_ages_outside_35_to_74_are_scored_but_flagged(age: int) -> None:
    result = china_par_risk(person(age=age))
    assert result.risk10_percent is not None
    assert len(result.warnings) == 1 and "35–74" in result.warnings[0]


@pytest.mark.parametrize("age", [35, 74])
def test_ages_35_and_74_are_not_flagged(age: int) -> None:
    assert china_par_risk(person(age=age)).warnings == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", 19),
        ("age", 86),
        ("age", 300),
        ("sbp_mmHg", 69),
        ("sbp_mmHg", 201),
        ("sbp_mmHg", -120),
        ("waist_cm", 49),
        ("waist_cm", 131),
        ("tc_mmol_L", 1.9),
        ("tc_mmol_L", 11.1),
        ("hdl_mmol_L", 0.4),
        ("hdl_mmol_L", 4.1),
        ("age", float("nan")),
    ],
)
def test_the_official_input_limits_are_enforced(field: str, value: float) -> None:
    # REFERENCE §2.2 "Official calculator input limits".
    with pytest.raises(InputError) as error:
        person(**{field: value})
    assert error.value.field == field


def test_the_explanation_says_why_in_chinese() -> None:
    result = china_par_risk(person())
    assert "11.0%" in result.explanation and "高危" in result.explanation
    assert "男性" in result.explanation and "糖尿病" in result.explanation
    assert result.as_dict()["version"] == result.VERSION


profiles = st.builds(
    ChinaParInput,
    sex=st.sampled_from(["male", "female"]),
    age=st.integers(35, 74),
    sbp_mmHg=st.integers(70, 200),
    on_antihypertensive=st.booleans(),
    waist_cm=st.integers(50, 130),
    tc_mmol_L=st.floats(4.0, 11.0),
    hdl_mmol_L=st.floats(0.5, 3.5),
    current_smoker=st.booleans(),
    diabetes=st.booleans(),
    region_north=st.booleans(),
    urban=st.booleans(),
    family_history_ascvd=st.booleans(),
)


@given(profile=profiles, extra=st.integers(1, 50))
def test_risk_does_not_fall_as_sbp_rises(profile: ChinaParInput, extra: int) -> None:
    # For ages below ~95 every sex and treatment branch has a positive SBP slope (§2.1).
    assert profile.sbp_mmHg is not None
    higher = dataclasses.replace(profile, sbp_mmHg=min(200, profile.sbp_mmHg + extra))
    low, high = china_par_risk(profile).risk10_percent, china_par_risk(higher).risk10_percent
    assert low is not None and high is not None and high >= low


@given(profile=profiles, extra=st.integers(1, 39))
def test_risk_does_not_fall_with_age(profile: ChinaParInput, extra: int) -> None:
    # Holds for every woman and for men who neither smoke nor have a family history; for male
    # smokers with family history and high treated SBP the published equation (and the
    # official calculator) gives a risk that falls with age, see the test above.
    if profile.sex == "male":
        profile = dataclasses.replace(profile, current_smoker=False, family_history_ascvd=False)
    assert profile.age is not None
    older = dataclasses.replace(profile, age=min(74, profile.age + extra))
    young, old = china_par_risk(profile).risk10_percent, china_par_risk(older).risk10_percent
    assert young is not None and old is not None and old >= young


@pytest.mark.parametrize(
    ("terms", "published"),
    [
        # REFERENCE §2.1, the paper's worked example term by term (60-year-old man, SBP 130
        # untreated, TC 210 mg/dL, HDL-C 55, waist 80, diabetes, urban north):
        # 130.88 + 127.28 + 3.32 − 2.78 − 3.12 + 0.36 + 0.48 − 0.16 − 114.21 = 142.04.
        (("ln_age",), 130.88),
        (("ln_sbp_untreated",), 127.28),
        (("ln_tc",), 3.32),
        (("ln_hdl",), -2.78),
        (("ln_waist",), -3.12),
        (("diabetes",), 0.36),
        (("north",), 0.48),
        (("urban",), -0.16),
        (("ln_age_x_ln_sbp_untreated",), -114.21),
        # Not in the example (no smoking, no family history, untreated): each term is 0.
        (("smoker", "family_history", "ln_age_x_smoker", "ln_age_x_family_history"), 0.0),
        (("ln_sbp_treated", "ln_age_x_ln_sbp_treated"), 0.0),
    ],
)
def test_the_papers_worked_example_term_by_term(terms: tuple[str, ...], published: float) -> None:
    zero = {item.name: 0.0 for item in dataclasses.fields(MEN) if item.name not in terms}
    only = dataclasses.replace(MEN, **zero)
    term = linear_predictor(
        only,
        age=60,
        sbp_mmHg=130,
        treated=False,
        tc_mg_dl=210,
        hdl_mg_dl=55,
        waist_cm=80,
        smoker=False,
        diabetes=True,
        north=True,
        urban=True,
        family_history=False,
    )
    assert round(term, 2) == published

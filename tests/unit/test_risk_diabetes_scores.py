"""Chinese Diabetes Risk Score (REFERENCE.md §3.1) and FINDRISC (§3.2).

REFERENCE gives no worked example for either score, so every expected total below is added up
by hand from the point tables, item by item, in the comment beside it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careloop.rules.risk.base import InputError
from careloop.rules.risk.cdrs import CdrsInput, cdrs_score
from careloop.rules.risk.findrisc import FindriscInput, findrisc_score


def cdrs(**values: Any) -> CdrsInput:
    base: dict[str, Any] = dict(
        age=22, sex="female", sbp_mmHg=100, bmi=20.0, waist_cm=65, family_history_diabetes=False
    )
    base.update(values)
    return CdrsInput(**base)


def test_cdrs_the_lowest_profile_scores_0() -> None:
    # age 20–24 → 0, SBP <110 → 0, BMI <22 → 0, waist (women) <70 → 0, no family → 0, female 0
    result = cdrs_score(cdrs())
    assert (result.total, result.high_risk) == (0, False)


def test_cdrs_the_highest_profile_scores_the_published_maximum_51() -> None:
    # age 65–74 → 18, SBP ≥160 → 10, BMI ≥30 → 5, waist (men) ≥95 → 10, family → 6, male → 2
    # = 51, the published range's maximum (Zhou 2013 abstract, REFERENCE §3.1).
    result = cdrs_score(
        cdrs(age=70, sex="male", sbp_mmHg=165, bmi=31, waist_cm=100, family_history_diabetes=True)
    )
    assert result.total == 51
    assert result.high_risk is True


def test_cdrs_exactly_25_points_is_high_risk() -> None:
    # age 60–64 → 16, SBP 120–129 → 3, BMI 22.0–23.9 → 1, waist (women) 75–79.9 → 5,
    # no family → 0, female → 0: 16 + 3 + 1 + 5 = 25, and the cut-off is ≥25.
    result = cdrs_score(cdrs(age=60, sbp_mmHg=120, bmi=22.0, waist_cm=75))
    assert result.total == 25
    assert result.high_risk is True
    assert "OGTT" in result.explanation


def test_cdrs_24_points_is_not_high_risk() -> None:
    # age 55–59 → 15, SBP 120–129 → 3, BMI 22.0–23.9 → 1, waist 75–79.9 → 5: 24.
    result = cdrs_score(cdrs(age=55, sbp_mmHg=120, bmi=22.0, waist_cm=75))
    assert (result.total, result.high_risk) == (24, False)


@pytest.mark.parametrize(
    ("age", "points"),
    [
        (20, 0),
        (24, 0),
        (24.9, 0),
        (25, 4),
        (34, 4),
        (35, 8),
        (39, 8),
        (40, 11),
        (44, 11),
        (45, 12),
        (50, 13),
        (55, 15),
        (59, 15),
        (60, 16),
        (64, 16),
        (65, 18),
        (74, 18),
        (74.9, 18),
    ],
)
def test_cdrs_age_points(age: float, points: int) -> None:
    # REFERENCE §3.1: 20–24 / 25–34 / 35–39 / 40–44 / 45–49 / 50–54 / 55–59 / 60–64 / 65–74
    # → 0 / 4 / 8 / 11 / 12 / 13 / 15 / 16 / 18 (ages in completed years).
    assert cdrs_score(cdrs(age=age)).points["age"] == points


@pytest.mark.parametrize(
    ("sbp", "points"),
    [(109, 0), (110, 1), (119, 1), (120, 3), (129, 3), (130, 6), (139, 6), (140, 7),
     (149, 7), (150, 8), (159, 8), (160, 10), (200, 10)],
)  # fmt: skip
def test_cdrs_sbp_points(sbp: float, points: int) -> None:
    # <110 / 110–119 / 120–129 / 130–139 / 140–149 / 150–159 / ≥160 → 0/1/3/6/7/8/10
    assert cdrs_score(cdrs(sbp_mmHg=sbp)).points["sbp"] == points


@pytest.mark.parametrize(
    ("bmi", "points"),
    [(21.9, 0), (22.0, 1), (23.9, 1), (24.0, 3), (29.9, 3), (30.0, 5), (40.0, 5)],
)
def test_cdrs_bmi_points(bmi: float, points: int) -> None:
    # <22.0 / 22.0–23.9 / 24.0–29.9 / ≥30.0 → 0 / 1 / 3 / 5
    assert cdrs_score(cdrs(bmi=bmi)).points["bmi"] == points


@pytest.mark.parametrize(
    ("sex", "waist", "points"),
    [
        ("male", 74.9, 0),
        ("male", 75, 3),
        ("male", 79.9, 3),
        ("male", 80, 5),
        ("male", 85, 7),
        ("male", 90, 8),
        ("male", 94.9, 8),
        ("male", 95, 10),
        ("female", 69.9, 0),
        ("female", 70, 3),
        ("female", 75, 5),
        ("female", 80, 7),
        ("female", 85, 8),
        ("female", 89.9, 8),
        ("female", 90, 10),
    ],
)
def test_cdrs_waist_points(sex: str, waist: float, points: int) -> None:
    # men <75 / 75–79.9 / 80–84.9 / 85–89.9 / 90–94.9 / ≥95; women the same 5 cm lower
    assert cdrs_score(cdrs(sex=sex, waist_cm=waist)).points["waist"] == points


def test_cdrs_family_history_is_6_and_male_sex_is_2() -> None:
    assert cdrs_score(cdrs(family_history_diabetes=True)).total == 6
    assert cdrs_score(cdrs(sex="male")).total == 2


@pytest.mark.parametrize("age", [19, 19.9, 75, 80])
def test_cdrs_is_only_for_ages_20_to_74(age: float) -> None:
    with pytest.raises(InputError) as error:
        cdrs(age=age)
    assert error.value.field == "age"


@given(
    age=st.integers(20, 74),
    sex=st.sampled_from(["male", "female"]),
    sbp=st.integers(60, 250),
    bmi=st.floats(12, 60),
    waist=st.floats(40, 200),
    family=st.booleans(),
)
def test_cdrs_total_is_within_0_to_51_and_adds_up(
    age: int, sex: str, sbp: int, bmi: float, waist: float, family: bool
) -> None:
    result = cdrs_score(
        cdrs(
            age=age, sex=sex, sbp_mmHg=sbp, bmi=bmi, waist_cm=waist, family_history_diabetes=family
        )
    )
    assert 0 <= result.total <= 51
    assert result.total == sum(result.points.values())
    assert result.high_risk == (result.total >= 25)


def findrisc(**values: Any) -> FindriscInput:
    base: dict[str, Any] = dict(
        age=30,
        sex="male",
        bmi=22.0,
        waist_cm=80,
        physical_activity_30min_daily=True,
        vegetables_fruit_daily=True,
        antihypertensive_medication=False,
        history_high_glucose=False,
        family_history="none",
    )
    base.update(values)
    return FindriscInput(**base)


def test_findrisc_the_lowest_profile_scores_0() -> None:
    result = findrisc_score(findrisc())
    assert (result.total, result.category) == (0, "low")


def test_findrisc_the_highest_profile_scores_26() -> None:
    # age >64 → 4, BMI >30 → 3, waist (men) >102 → 4, inactive → 2, no vegetables → 1,
    # antihypertensives → 2, high glucose → 5, first-degree family → 5: 26 (REFERENCE §3.2).
    result = findrisc_score(
        findrisc(
            age=70,
            bmi=31,
            waist_cm=103,
            physical_activity_30min_daily=False,
            vegetables_fruit_daily=False,
            antihypertensive_medication=True,
            history_high_glucose=True,
            family_history="first_degree",
        )
    )
    assert (result.total, result.category) == (26, "very_high")


@pytest.mark.parametrize(
    ("values", "total", "category"),
    [
        # high glucose 5 + no vegetables 1 = 6
        (dict(history_high_glucose=True, vegetables_fruit_daily=False), 6, "low"),
        # high glucose 5 + inactive 2 = 7
        (dict(history_high_glucose=True, physical_activity_30min_daily=False), 7,
         "slightly_elevated"),
        # high glucose 5 + antihypertensives 2 + inactive 2 + age 45–54 2 = 11
        (dict(history_high_glucose=True, antihypertensive_medication=True,
              physical_activity_30min_daily=False, age=45), 11, "slightly_elevated"),
        # the same + no vegetables 1 = 12
        (dict(history_high_glucose=True, antihypertensive_medication=True,
              physical_activity_30min_daily=False, age=45, vegetables_fruit_daily=False),
         12, "moderate"),
        # high glucose 5 + first-degree 5 + age 55–64 3 + no vegetables 1 = 14
        (dict(history_high_glucose=True, family_history="first_degree", age=55,
              vegetables_fruit_daily=False), 14, "moderate"),
        # high glucose 5 + first-degree 5 + age 55–64 3 + inactive 2 = 15
        (dict(history_high_glucose=True, family_history="first_degree", age=55,
              physical_activity_30min_daily=False), 15, "high"),
        # 5 + 5 + age >64 4 + inactive 2 + antihypertensives 2 + no vegetables 1 + BMI 25–30 1
        (dict(history_high_glucose=True, family_history="first_degree", age=65,
              physical_activity_30min_daily=False, antihypertensive_medication=True,
              vegetables_fruit_daily=False, bmi=25.0), 20, "high"),
        # 5 + 5 + 4 + inactive 2 + antihypertensives 2 + waist (men) 94–102 3 = 21
        (dict(history_high_glucose=True, family_history="first_degree", age=65,
              physical_activity_30min_daily=False, antihypertensive_medication=True,
              waist_cm=94), 21, "very_high"),
        # second-degree family 3
        (dict(family_history="second_degree"), 3, "low"),
    ],
)  # fmt: skip
def test_findrisc_band_edges(values: dict[str, Any], total: int, category: str) -> None:
    # Bands: <7 low, 7–11 slightly elevated, 12–14 moderate, 15–20 high, >20 very high.
    result = findrisc_score(findrisc(**values))
    assert (result.total, result.category) == (total, category)


@pytest.mark.parametrize(
    ("age", "points"), [(44, 0), (44.9, 0), (45, 2), (54, 2), (55, 3), (64, 3), (64.9, 3), (65, 4)]
)
def test_findrisc_age_points(age: float, points: int) -> None:
    # <45 / 45–54 / 55–64 / >64 → 0 / 2 / 3 / 4 (completed years)
    assert findrisc_score(findrisc(age=age)).points["age"] == points


@pytest.mark.parametrize(("bmi", "points"), [(24.9, 0), (25.0, 1), (30.0, 1), (30.1, 3)])
def test_findrisc_bmi_points(bmi: float, points: int) -> None:
    # <25 / 25–30 / >30 → 0 / 1 / 3
    assert findrisc_score(findrisc(bmi=bmi)).points["bmi"] == points


@pytest.mark.parametrize(
    ("sex", "waist", "points"),
    [
        ("male", 93.9, 0),
        ("male", 94, 3),
        ("male", 102, 3),
        ("male", 102.1, 4),
        ("female", 79.9, 0),
        ("female", 80, 3),
        ("female", 88, 3),
        ("female", 88.1, 4),
    ],
)
def test_findrisc_waist_points(sex: str, waist: float, points: int) -> None:
    # men <94 / 94–102 / >102; women <80 / 80–88 / >88 → 0 / 3 / 4
    assert findrisc_score(findrisc(sex=sex, waist_cm=waist)).points["waist"] == points


@given(
    age=st.floats(18, 120),
    sex=st.sampled_from(["male", "female"]),
    bmi=st.floats(10, 80),
    waist=st.floats(30, 250),
    active=st.booleans(),
    vegetables=st.booleans(),
    drugs=st.booleans(),
    glucose=st.booleans(),
    family=st.sampled_from(["none", "second_degree", "first_degree"]),
)
def test_findrisc_total_is_within_0_to_26(
    age: float,
    sex: str,
    bmi: float,
    waist: float,
    active: bool,
    vegetables: bool,
    drugs: bool,
    glucose: bool,
    family: str,
) -> None:
    result = findrisc_score(
        findrisc(
            age=age,
            sex=sex,
            bmi=bmi,
            waist_cm=waist,
            physical_activity_30min_daily=active,
            vegetables_fruit_daily=vegetables,
            antihypertensive_medication=drugs,
            history_high_glucose=glucose,
            family_history=family,
        )
    )
    assert 0 <= result.total <= 26
    assert result.total == sum(result.points.values())
    expected = (
        "low"
        if result.total < 7
        else "slightly_elevated"
        if result.total <= 11
        else "moderate"
        if result.total <= 14
        else "high"
        if result.total <= 20
        else "very_high"
    )
    assert result.category == expected


@pytest.mark.parametrize(
    ("height", "weight", "bmi", "cdrs_points", "findrisc_points"),
    [
        (200, 95.8, 24.0, 3, 0),  # 23.95 → 24.0: 超重 and the CDRS band 24.0–29.9
        (200, 87.8, 22.0, 1, 0),  # 21.95 → 22.0: the CDRS band 22.0–23.9
        (200, 119.8, 30.0, 5, 1),  # 29.95 → 30.0: CDRS ≥30.0; FINDRISC 25–30
    ],
)
def test_the_record_scores_use_the_bmi_the_bmi_result_shows(
    height: float, weight: float, bmi: float, cdrs_points: int, findrisc_points: int
) -> None:
    """The diabetes scores read from the record round BMI half up to one decimal, as the BMI
    result does (REFERENCE §3.1 bands 22.0–23.9 / 24.0–29.9 / ≥30.0, §4.1), not Python's
    round(), which gives 23.9 for 23.95 and scored the 超重 patient as 22.0–23.9."""
    from careloop.rules import assessments
    from careloop.rules.record_inputs import Record
    from careloop.rules.risk.bmi import BmiInput, bmi_class

    values = {"8302-2": height, "29463-7": weight, "8280-0": 80.0, "8480-6": 125.0}

    def latest(codes: tuple[str, ...]) -> float | None:
        return next((values[c] for c in codes if c in values), None)

    assert bmi_class(BmiInput(height_cm=height, weight_kg=weight)).bmi == bmi
    record = Record(
        smoking="never",
        exercise_times_per_week=7,
        exercise_minutes=30,
        vegetables_fruit_daily=True,
    )
    cdrs_inputs = assessments._cdrs(latest, "male", 50, record)
    assert isinstance(cdrs_inputs, dict)
    assert cdrs_inputs["bmi"] == bmi
    assert cdrs_score(CdrsInput(**cdrs_inputs)).points["bmi"] == cdrs_points
    findrisc_inputs = assessments._findrisc(latest, "male", 50, record)
    assert isinstance(findrisc_inputs, dict)
    assert findrisc_score(FindriscInput(**findrisc_inputs)).points["bmi"] == findrisc_points

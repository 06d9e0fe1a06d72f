"""The advice library: every shipped entry is well formed; entries fit a person by
diagnosis, flagged result, assessment, smoking, PHQ-9 and tags, within their age and sex;
a wrong entry is named."""

from __future__ import annotations

import pytest

from careloop.care.advice import TOPICS, AdviceError, Profile, advise, library, read_library


def codes(person: Profile) -> set[str]:
    return {entry.code for entry, _why in advise(person)}


def test_the_library_covers_every_topic() -> None:
    assert {entry.topic for entry in library()} == set(TOPICS)
    assert codes(Profile(age=40, sex="male")) == set()  # nothing applies to a healthy person


def test_entries_fit_by_record_and_age() -> None:
    adult = codes(Profile(age=50, sex="male", icd10=("I10",)))
    assert {"htn-salt", "htn-exercise", "htn-monitor"} <= adult
    assert "htn-exercise-elderly" not in adult
    elderly = codes(Profile(age=70, sex="female", assessments={"bp-grade": "2级高血压"}))
    assert "htn-exercise-elderly" in elderly and "htn-exercise" not in elderly
    lipids = codes(Profile(age=45, sex="male", high=frozenset({"2089-1"})))
    assert "lipid-diet" in lipids and "htn-salt" not in lipids
    assert "lipid-diet" in codes(Profile(age=45, sex="male", low=frozenset({"2085-9"})))
    assert "smoke-quit" in codes(Profile(age=30, sex="male", smoker=True))
    assert "mood-support" in codes(Profile(age=30, sex="female", phq9=5))
    assert "mood-support" not in codes(Profile(age=30, sex="female", phq9=4))
    assert "sleep-habits" in codes(Profile(age=30, sex="female", tags=frozenset({"失眠"})))
    found = {e.code: why for e, why in advise(Profile(age=50, sex="male", icd10=("E11.9",)))}
    assert found["dm-diet"] == ["诊断 E11.9"]
    # A glucose category is read in words ("血糖状态：diabetes" was on the plan page).
    names = {"glucose": "血糖状态"}
    found = {
        e.code: why
        for e, why in advise(
            Profile(age=50, sex="male", assessments={"glucose": "diabetes"}), {}, names
        )
    }
    reasons = {reason for why in found.values() for reason in why}
    assert "血糖状态：达到糖尿病诊断切点" in reasons
    assert not any("diabetes" in reason for reason in reasons)


def test_a_wrong_entry_is_named() -> None:
    good = {
        "code": "x",
        "topic": "sleep",
        "category": "diet",
        "title": "t",
        "text": "t",
        "when": {"tags": ["失眠"]},
    }
    read_library({"entries": [good]})
    with pytest.raises(AdviceError, match=r"entries\[0\]\.topic"):
        read_library({"entries": [dict(good, topic="cancer")]})
    with pytest.raises(AdviceError, match=r"entries\[0\]\.when"):
        read_library({"entries": [dict(good, when={"weather": "rain"})]})
    with pytest.raises(AdviceError, match="code 重复"):
        read_library({"entries": [good, good]})


def test_a_high_hba1c_in_ifcc_units_brings_the_diabetes_advice() -> None:
    """The catalogue's HbA1c by IFCC (59261-8, mmol/mol) flagged high: the same advice as an
    HbA1c in % flagged high."""
    percent = codes(Profile(age=50, sex="male", high=frozenset({"4548-4"})))
    ifcc = codes(Profile(age=50, sex="male", high=frozenset({"59261-8"})))
    assert {"dm-diet", "dm-exercise", "dm-monitor"} <= percent
    assert ifcc == percent

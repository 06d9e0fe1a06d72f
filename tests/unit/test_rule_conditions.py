"""The rule condition language: every kind, and/or/not, validation messages, explanations.

Times are fixed (no clock is read by the conditions: ``Facts.now`` is given)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from careloop.rules.conditions import Facts, Reading, RuleError, compile_condition

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 23, 50, tzinfo=TZ)
SBP, GLU, LDL = "8480-6", "14749-6", "22748-8"
NIGHT = {
    "kind": "time_window",
    "code": GLU,
    "op": "<",
    "value": 4.0,
    "from": "22:00",
    "to": "06:00",
}


def facts(**readings: list[tuple[str, float]]) -> Facts:
    """Readings as (\"YYYY-MM-DD HH:MM\", value), oldest first, keyed by code name."""
    codes = {"sbp": SBP, "glu": GLU, "ldl": LDL}
    return Facts(
        now=NOW,
        sex="female",
        age=67,
        tags=frozenset({"高血压"}),
        risk_tier="medium",
        risks={"china-par": "高危"},
        readings={
            codes[key]: [
                Reading(datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=TZ), value)
                for at, value in series
            ]
            for key, series in readings.items()
        },
        answers={"PHQ-9": {"9": 2}},
        symptoms=frozenset({"胸痛胸闷"}),
        names={SBP: "收缩压", GLU: "葡萄糖"},
    )


def check(condition: dict, given: Facts) -> bool:
    return compile_condition(condition).evaluate(given).matched


def test_latest_threshold_uses_the_newest_reading_and_explains() -> None:
    given = facts(sbp=[("2026-11-20 08:00", 185), ("2026-11-23 08:00", 150)])
    rule = compile_condition({"kind": "latest", "code": SBP, "op": ">=", "value": 180})
    result = rule.evaluate(given)
    assert not result.matched and "150" in result.reasons[0] and "未≥ 180" in result.reasons[0]
    given = facts(sbp=[("2026-11-23 08:00", 180)])
    result = rule.evaluate(given)
    assert result.matched and result.reasons == ["最近一次收缩压 180（2026-11-23 08:00）≥ 180"]
    assert not rule.evaluate(facts()).matched  # no reading at all


def test_consecutive_readings_all_beyond_the_threshold() -> None:
    rule = {"kind": "consecutive", "code": SBP, "count": 3, "op": ">=", "value": 140}
    readings = [("2026-11-01 08:00", 120), ("2026-11-02 08:00", 141), ("2026-11-03 08:00", 150)]
    assert not check(rule, facts(sbp=readings))  # the third-newest is 120
    assert check(rule, facts(sbp=[*readings, ("2026-11-04 08:00", 140)]))
    assert not check(rule, facts(sbp=readings[1:]))  # only two readings


def test_trend_needs_each_reading_higher_than_the_one_before() -> None:
    rule = {"kind": "trend", "code": SBP, "count": 3, "direction": "rising"}
    assert check(
        rule,
        facts(
            sbp=[("2026-11-01 08:00", 130), ("2026-11-02 08:00", 138), ("2026-11-03 08:00", 145)]
        ),
    )
    assert not check(
        rule,
        facts(
            sbp=[("2026-11-01 08:00", 130), ("2026-11-02 08:00", 130), ("2026-11-03 08:00", 145)]
        ),
    )
    falling = dict(rule, direction="falling")
    assert check(
        falling,
        facts(
            sbp=[("2026-11-01 08:00", 150), ("2026-11-02 08:00", 140), ("2026-11-03 08:00", 139)]
        ),
    )


@pytest.mark.parametrize(
    ("at", "value", "fires"),
    [
        ("2026-11-23 23:40", 3.2, True),  # night, low
        ("2026-11-23 22:00", 3.9, True),  # the window's first minute
        ("2026-11-24 05:59", 3.0, True),  # after midnight, still in the window
        ("2026-11-24 06:00", 3.0, False),  # the window has ended
        ("2026-11-23 14:00", 3.0, False),  # daytime
        ("2026-11-23 23:40", 4.0, False),  # night but not below 4.0
    ],
)
def test_night_glucose_window_crosses_midnight(at: str, value: float, fires: bool) -> None:
    assert check(NIGHT, facts(glu=[(at, value)])) is fires


def test_no_reading_for_n_days_counts_from_the_last_one() -> None:
    rule = compile_condition({"kind": "no_reading", "code": GLU, "days": 3})
    three_days = (NOW - timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    almost = (NOW - timedelta(days=3) + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    assert rule.evaluate(facts(glu=[(three_days, 5.0)])).matched
    assert not rule.evaluate(facts(glu=[(almost, 5.0)])).matched
    never = rule.evaluate(facts())
    assert not never.matched and "从未" in never.reasons[0]  # never measured: not monitored
    older = facts()
    older.last_reading_at = {GLU: NOW - timedelta(days=10)}  # beyond the loaded history
    assert rule.evaluate(older).matched


def test_change_against_the_previous_value_absolute_and_percent() -> None:
    readings = [("2026-11-01 08:00", 130), ("2026-11-02 08:00", 156)]
    assert check({"kind": "change", "code": SBP, "op": ">=", "value": 20}, facts(sbp=readings))
    assert check(
        {"kind": "change", "code": SBP, "op": ">=", "value": 20, "percent": True},
        facts(sbp=readings),
    )
    assert not check(
        {"kind": "change", "code": SBP, "op": ">=", "value": 21, "percent": True},
        facts(sbp=readings),
    )
    assert not check(
        {"kind": "change", "code": SBP, "op": ">=", "value": 1}, facts(sbp=readings[:1])
    )


def test_patient_facts_tag_age_sex_tier_risk_answer_symptom() -> None:
    given = facts()
    assert check({"kind": "tag", "tag": "高血压"}, given)
    assert not check({"kind": "tag", "tag": "糖尿病"}, given)
    assert check({"kind": "age", "op": ">=", "value": 65}, given)
    assert not check({"kind": "age", "op": ">=", "value": 68}, given)
    assert check({"kind": "sex", "value": "female"}, given)
    assert check({"kind": "risk_tier", "value": "medium"}, given)
    assert not check({"kind": "risk_tier", "value": "high"}, given)
    assert check({"kind": "risk", "model": "china-par", "category": "高危"}, given)
    assert check(
        {"kind": "answer", "questionnaire": "PHQ-9", "item": "9", "op": ">=", "value": 1}, given
    )
    assert not check(
        {"kind": "answer", "questionnaire": "PHQ-9", "item": "1", "op": ">=", "value": 1}, given
    )
    assert check({"kind": "symptom", "symptom": "胸痛胸闷"}, given)
    assert not check({"kind": "symptom", "symptom": "自伤风险"}, given)


def test_all_any_not_compose_and_collect_reasons() -> None:
    given = facts(sbp=[("2026-11-23 08:00", 182)])
    high = {"kind": "latest", "code": SBP, "op": ">=", "value": 180}
    old = {"kind": "age", "op": ">=", "value": 65}
    rule = compile_condition({"all": [high, old, {"not": {"kind": "tag", "tag": "临终关怀"}}]})
    result = rule.evaluate(given)
    assert result.matched and len(result.reasons) == 3 and result.reasons[2].startswith("并非")
    assert check({"any": [{"kind": "tag", "tag": "糖尿病"}, old]}, given)
    assert not check({"not": old}, given)
    assert rule.codes() == {SBP}


@pytest.mark.parametrize(
    ("condition", "path", "words"),
    [
        ([], "condition", "对象"),
        ({"kind": "latest", "code": SBP, "op": "=>", "value": 180}, "condition.op", "比较符"),
        ({"kind": "latest", "code": SBP, "op": ">=", "value": "180"}, "condition.value", "数字"),
        ({"kind": "latest", "op": ">=", "value": 180}, "condition.code", "不能为空"),
        (
            {"kind": "consecutive", "code": SBP, "op": ">", "value": 1, "count": 1},
            "condition.count",
            "2 到 20",
        ),
        (
            {
                "kind": "time_window",
                "code": GLU,
                "op": "<",
                "value": 4,
                "from": "夜里",
                "to": "06:00",
            },
            "condition.from",
            "HH:MM",
        ),
        ({"kind": "no_reading", "code": GLU, "days": 2.5}, "condition.days", "整数"),
        ({"kind": "sex", "value": "F"}, "condition.value", "male"),
        ({"kind": "eval", "code": "__import__('os')"}, "condition.kind", "未知的条件类型"),
        ({"all": []}, "condition.all", "非空"),
        (
            {
                "kind": "time_window",
                "code": GLU,
                "op": "<",
                "value": 4,
                "from": "22:00+08:00",
                "to": "06:00",
            },
            "condition.from",
            "不带时区",
        ),
        (
            {"kind": "latest", "code": SBP, "op": ">", "value": 1, "within_days": 0},
            "condition.within_days",
            "1 到 3650",
        ),
        ({"all": [{"kind": "tag", "tag": ""}]}, "condition.all[0].tag", "不能为空"),
        ({"not": {"kind": "age", "op": ">", "value": 200}}, "condition.not.value", "0 到 150"),
    ],
)
def test_bad_conditions_name_the_part_that_is_wrong(
    condition: object, path: str, words: str
) -> None:
    with pytest.raises(RuleError) as caught:
        compile_condition(condition)
    assert caught.value.path == path and words in caught.value.message


def test_codes_can_be_checked_against_the_catalogue() -> None:
    with pytest.raises(RuleError, match="不在检验项目目录中"):
        compile_condition(
            {"kind": "latest", "code": "0000-0", "op": ">", "value": 1}, known_codes={SBP}
        )


def test_diagnosis_by_icd10_prefix_and_recent_discharge() -> None:
    given = facts()
    given.diagnoses = frozenset({"I50.9", "E11.9"})
    given.last_discharge = NOW - timedelta(days=7, minutes=1)
    assert check({"kind": "diagnosis", "prefix": "i50"}, given)  # case does not matter
    assert check({"kind": "diagnosis", "prefix": ["I11.0", "E11"]}, given)
    assert not check({"kind": "diagnosis", "prefix": "I21"}, given)
    assert check({"kind": "discharged", "days": 8}, given)
    assert not check({"kind": "discharged", "days": 7}, given)
    assert not check({"kind": "discharged", "days": 30}, facts())  # never discharged


def test_a_reading_older_than_within_days_does_not_count() -> None:
    given = facts(sbp=[("2026-10-01 08:00", 190)])  # 53 days before NOW
    assert not check({"kind": "latest", "code": SBP, "op": ">=", "value": 180}, given)
    assert check(
        {"kind": "latest", "code": SBP, "op": ">=", "value": 180, "within_days": 60}, given
    )
    reasons = (
        compile_condition({"kind": "latest", "code": SBP, "op": ">=", "value": 180})
        .evaluate(given)
        .reasons
    )
    assert reasons == ["最近一次收缩压在 2026-10-01 08:00，早于 30 天"]


def test_an_action_type_that_is_not_text_is_refused() -> None:
    from careloop.rules.actions import compile_actions

    with pytest.raises(RuleError) as caught:
        compile_actions([{"type": ["tag"], "tag": "x"}])
    assert caught.value.path == "actions[0].type"


def test_a_time_window_reads_every_reading_of_the_last_day_not_only_the_newest() -> None:
    """A night low entered after the next morning's reading matches, about that reading."""
    rule = compile_condition(NIGHT)
    given = facts(
        glu=[("2026-11-23 03:10", 3.1), ("2026-11-23 03:40", 3.4), ("2026-11-23 08:00", 6.2)]
    )
    result = rule.evaluate(given)
    assert result.matched and result.about is not None
    assert (result.about.at, result.about.value) == (datetime(2026, 11, 23, 3, 40, tzinfo=TZ), 3.4)
    assert result.reasons == ["22:00–06:00 内葡萄糖 3.4（2026-11-23 03:40）< 4"]
    normal = rule.evaluate(facts(glu=[("2026-11-23 03:10", 5.1), ("2026-11-23 08:00", 3.0)]))
    assert not normal.matched and normal.about is None
    assert normal.reasons == ["22:00–06:00 内葡萄糖 5.1（2026-11-23 03:10）未< 4"]
    old = rule.evaluate(facts(glu=[("2026-11-22 23:40", 3.0)]))  # a day and 10 minutes ago
    assert not old.matched and old.reasons == ["近 1 天无 22:00–06:00 内的葡萄糖结果"]
    assert check({**NIGHT, "within_days": 2}, facts(glu=[("2026-11-22 23:40", 3.0)]))


def test_all_carries_the_reading_a_part_is_about() -> None:
    rule = compile_condition({"all": [NIGHT, {"kind": "age", "op": ">=", "value": 60}]})
    result = rule.evaluate(facts(glu=[("2026-11-23 02:00", 3.0), ("2026-11-23 09:00", 5.0)]))
    assert result.matched and result.about is not None
    assert result.about.at == datetime(2026, 11, 23, 2, 0, tzinfo=TZ)
    latest = compile_condition({"kind": "latest", "code": GLU, "op": ">", "value": 1})
    assert latest.evaluate(facts(glu=[("2026-11-23 09:00", 5.0)])).about is None

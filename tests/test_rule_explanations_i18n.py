"""Why a rule fired (or did not), in the reader's language: a dry run on an English page reads
English, on a Chinese page the same Chinese as always, and what a firing stores (its reasons,
its alert's reason) stays in the default language whoever's request fired it."""

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone, translation

from careloop.accounts.roles import Role
from careloop.rules.conditions import Facts, Reading, compile_condition
from careloop.rules.models import RuleFiring
from tests.factories import PatientFactory, UserFactory
from tests.test_patients_web import logged_in
from tests.test_rules import SBP, rule_alerts, store
from tests.test_rules_web import rule_form

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 23, 50, tzinfo=TZ)
GLU, LDL = "14749-6", "22748-8"
CJK = re.compile(r"[\u4e00-\u9fff（）：，、；]")  # Chinese, and its full-width punctuation


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def facts() -> Facts:
    return Facts(
        now=NOW,
        sex="female",
        age=67,
        tags=frozenset({"高血压"}),
        risk_tier="medium",
        risks={"china-par": "高危"},
        readings={
            SBP: [
                Reading(at("2026-11-21 08:00"), 150.0, "mmHg"),
                Reading(at("2026-11-23 08:00"), 180.0, "mmHg"),
            ],
            GLU: [Reading(at("2026-11-23 03:40"), 3.4, "mmol/L")],
            LDL: [Reading(at("2026-10-01 08:00"), 4.2, "mmol/L")],
        },
        last_reading_at={GLU: at("2026-11-19 08:00")},
        answers={"PHQ-9": {"9": 2}},
        symptoms=frozenset({"胸痛胸闷"}),
        outcome="wrong_number",
        diagnoses=frozenset({"I50.9"}),
        last_discharge=at("2026-11-10 15:00"),
        names={SBP: "收缩压", GLU: "葡萄糖", LDL: "低密度脂蛋白胆固醇"},
        names_en={SBP: "Systolic blood pressure", LDL: "LDL cholesterol"},  # glucose: none
        tz=TZ,
    )


# Each condition with what it says today in Chinese (character for character) and a part of
# its English; the Chinese left in English is user data (a tag, a symptom, an assessment's
# category) or an item the catalogue has no English name for (葡萄糖).
CASES: list[tuple[dict[str, Any], str, str]] = [
    (
        {"kind": "latest", "code": SBP, "op": ">=", "value": 180},
        "最近一次收缩压 180 mmHg（2026-11-23 08:00）≥ 180",
        "Systolic blood pressure, latest: 180 mmHg (2026-11-23 08:00) ≥ 180",
    ),
    (
        {"kind": "latest", "code": SBP, "op": ">=", "value": 190},
        "最近一次收缩压 180 mmHg（2026-11-23 08:00）未≥ 190",
        "Systolic blood pressure, latest: 180 mmHg (2026-11-23 08:00) not ≥ 190",
    ),
    (
        {"kind": "latest", "code": LDL, "op": ">=", "value": 3.4},
        "最近一次低密度脂蛋白胆固醇在 2026-10-01 08:00，早于 30 天",
        "LDL cholesterol, latest at 2026-10-01 08:00: more than 30 days ago",
    ),
    (
        {"kind": "time_window", "code": GLU, "op": "<", "value": 4, "from": "08:00", "to": "12:00"},
        "近 1 天无 08:00–12:00 内的葡萄糖结果",
        "葡萄糖: no result within 08:00–12:00 in the last 1 day",
    ),
    (
        {"kind": "consecutive", "code": SBP, "count": 2, "op": ">=", "value": 140},
        "最近 2 次收缩压（150、180）均≥ 140",
        "Systolic blood pressure, last 2 results (150, 180): all ≥ 140",
    ),
    (
        {"kind": "consecutive", "code": SBP, "count": 3, "op": ">=", "value": 140},
        "收缩压不足 3 次",
        "Systolic blood pressure: fewer than 3 results",
    ),
    (
        {"kind": "trend", "code": SBP, "count": 2, "direction": "falling"},
        "收缩压连续 2 次并非逐次下降（150 → 180）",
        "did not fall at each of the last 2 results (150 → 180)",
    ),
    (
        {"kind": "time_window", "code": GLU, "op": "<", "value": 4, "from": "22:00", "to": "06:00"},
        "22:00–06:00 内葡萄糖 3.4 mmol/L（2026-11-23 03:40）< 4",
        "葡萄糖 within 22:00–06:00: 3.4 mmol/L (2026-11-23 03:40) < 4",
    ),
    (
        {"kind": "no_reading", "code": GLU, "days": 3},
        "3 天内并非无葡萄糖结果（上次葡萄糖在 2026-11-23 03:40）",
        "a result within the last 3 days",
    ),
    (
        {"kind": "change", "code": SBP, "op": ">=", "value": 20, "percent": True},
        "收缩压较上次变化 +20%（150 → 180）≥ 20%",
        "changed by +20% from the previous result (150 → 180): ≥ 20%",
    ),
    (
        {"not": {"kind": "tag", "tag": "高血压"}},
        "并非：有标签“高血压”",
        "Not: Has the tag “高血压”",
    ),
    ({"kind": "age", "op": ">=", "value": 70}, "年龄 67 岁未≥ 70", "Age 67: not ≥ 70"),
    ({"kind": "sex", "value": "male"}, "性别女", "Sex: female"),
    ({"kind": "risk_tier", "value": "high"}, "风险分层为中，不是高", "Risk tier: medium, not high"),
    (
        {"kind": "risk", "model": "bp-grade", "category": "3级"},
        "血压分级 评估为未评估",  # the model's name, not its key "bp-grade"
        "Blood pressure grade: not assessed",
    ),
    (
        {"kind": "diagnosis", "prefix": ["I50", "I11.0"]},
        "诊断 I50.9（属 I50、I11.0）",
        "(under I50, I11.0)",
    ),
    (
        {"kind": "discharged", "days": 30},
        "2026-11-10 15:00 出院，在 30 天内",
        "within the last 30 days",
    ),
    (
        {"kind": "answer", "questionnaire": "PHQ-9", "item": "9", "op": ">=", "value": 1},
        "PHQ-9 第 9 题答 2，≥ 1",
        "PHQ-9 item 9: answered 2, ≥ 1",
    ),
    (
        {"kind": "outcome", "outcomes": ["wrong_number", "busy"]},
        "随访结果为“号码错误”，属于号码错误、占线",
        "Follow-up outcome “wrong number”: one of wrong number, busy",
    ),
    ({"kind": "symptom", "symptom": "水肿"}, "回复中未提到水肿", "The reply does not mention 水肿"),
]


@pytest.mark.parametrize(("condition", "chinese", "english"), CASES)
def test_an_explanation_reads_in_the_active_language(
    condition: dict[str, Any], chinese: str, english: str
) -> None:
    rule = compile_condition(condition)
    with translation.override("zh-hans"):
        assert rule.evaluate(facts()).reasons == [chinese]
    with translation.override("en"):
        (reason,) = rule.evaluate(facts()).reasons
    assert english in reason
    user_data = ("高血压", "胸痛胸闷", "水肿", "葡萄糖")
    assert not CJK.search(re.sub("|".join(user_data), "", reason)), reason


def test_an_explanation_is_written_when_read_in_the_language_active_then() -> None:
    outcome = compile_condition({"kind": "age", "op": ">=", "value": 65}).evaluate(facts())
    with translation.override("en"):
        assert outcome.reasons == ["Age 67: ≥ 65"]


@pytest.fixture
def editor(hospital: Any) -> Any:
    user = UserFactory(organisation=hospital, role=Role.SUPERVISOR)
    user.user_permissions.add(Permission.objects.get(codename="change_rule"))
    return user


def test_a_dry_run_on_an_english_page_explains_in_english(editor: Any, hospital: Any) -> None:
    patient = PatientFactory(organisation=hospital, name="钱秀兰")
    store(patient, SBP, 168, timezone.now() - timedelta(days=3))
    form = rule_form(dry_run="", save=None, days="7") | {"save": []}
    client = logged_in(editor)
    english = client.post("/rules/new/", form, HTTP_ACCEPT_LANGUAGE="en")
    (reason,) = english.context["matches"][0]["reasons"]
    assert reason.startswith("Systolic blood pressure, latest: 168 mmHg (") and " ≥ 165" in reason
    assert not CJK.search(reason)
    chinese = client.post("/rules/new/", form, HTTP_ACCEPT_LANGUAGE="zh-hans")
    (reason,) = chinese.context["matches"][0]["reasons"]
    assert reason.startswith("最近一次收缩压 168 mmHg（") and reason.endswith("）≥ 165")


def test_a_rule_fired_in_an_english_request_stores_its_reasons_in_chinese(
    editor: Any, hospital: Any
) -> None:
    alert = '[{"type": "alert", "severity": "high", "title": "血压偏高"}]'
    client = logged_in(editor)
    response = client.post("/rules/new/", rule_form(actions=alert), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    patient = PatientFactory(organisation=hospital)
    with translation.override("en"):  # as in an English page's request, or an import from one
        store(patient, SBP, 170, timezone.now())
    (firing,) = RuleFiring.objects.all()
    assert firing.reasons[0].startswith("最近一次收缩压 170 mmHg（")
    (stored,) = rule_alerts(patient)
    assert stored.reason.startswith("最近一次收缩压 170 mmHg（")

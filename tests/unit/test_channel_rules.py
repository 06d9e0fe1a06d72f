"""Channel rules of a pathway node (DOMAIN.md F9): the first matching rule orders the
channels for the patient; the definition checker names what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.followup.definition import DefinitionError, Profile, compile_definition

RULES = [
    {"when": {"risk": ["high"]}, "channels": ["phone", "voice"]},
    {"when": {"age_min": 75}, "channels": ["phone", "letter"]},
    {"when": {"literacy": ["low"]}, "channels": ["phone", "voice", "letter"]},
    {"when": {"age_max": 59, "literacy": ["high", "medium"]}, "channels": ["wechat", "app"]},
    {"when": {"lives_alone": True}, "channels": ["home_visit", "phone"]},
]


def definition(node_rules: Any = None, top_rules: Any = None) -> Any:
    node: dict[str, Any] = {
        "key": "check",
        "title": "随访",
        "purpose": "condition_tracking",
        "channels": ["sms", "phone"],
    }
    if node_rules is not None:
        node["channel_rules"] = node_rules
    data: dict[str, Any] = {"trigger": {"kind": "manual"}, "nodes": [node]}
    if top_rules is not None:
        data["channel_rules"] = top_rules
    return compile_definition(data)


def who(age: int = 65, literacy: str = "medium", risk: str = "", alone: bool = False) -> Profile:
    return Profile(age=age, literacy=literacy, risk=risk, value="", lives_alone=alone)


@pytest.mark.parametrize(
    ("profile", "channels"),
    [
        (who(risk="high", age=40, literacy="high"), ("phone", "voice")),  # first rule wins
        (who(age=80), ("phone", "letter")),
        (who(age=75), ("phone", "letter")),  # age_min is inclusive
        (who(age=74, literacy="low"), ("phone", "voice", "letter")),
        (who(age=45, literacy="high"), ("wechat", "app")),
        (who(age=59, literacy="medium"), ("wechat", "app")),  # age_max is inclusive
        (who(age=60, literacy="medium"), ("sms", "phone")),  # no rule: the node's own order
        (who(age=66, alone=True), ("home_visit", "phone")),
    ],
)
def test_the_first_matching_rule_orders_the_channels(profile: Profile, channels: tuple) -> None:
    [node] = definition(RULES).nodes
    assert node.channels_for(profile) == channels


def test_top_level_rules_apply_to_nodes_without_their_own() -> None:
    [node] = definition(top_rules=RULES[:1]).nodes
    assert node.channels_for(who(risk="high")) == ("phone", "voice")
    [own] = definition(node_rules=[], top_rules=RULES[:1]).nodes
    assert own.channels_for(who(risk="high")) == ("sms", "phone")  # its own (empty) rules


def test_an_unknown_age_matches_no_age_rule() -> None:
    [node] = definition(RULES[1:2]).nodes
    unknown = Profile(age=None, literacy="low", risk="", value="", lives_alone=False)
    assert node.channels_for(unknown) == ("sms", "phone")


@pytest.mark.parametrize(
    ("rules", "path", "message"),
    [
        ({"when": {}}, "nodes[0].channel_rules", "须为规则列表"),
        ([{"when": {}, "channels": ["sms"]}], "nodes[0].channel_rules[0].when", "须为一个非空对象"),
        (
            [{"when": {"income": "high"}, "channels": ["sms"]}],
            "nodes[0].channel_rules[0].when.income",
            "未知的条件（可用：age_min age_max literacy risk value lives_alone）",
        ),
        (
            [{"when": {"risk": ["urgent"]}, "channels": ["sms"]}],
            "nodes[0].channel_rules[0].when.risk[0]",
            "须为 high、medium、low 之一",
        ),
        (
            [{"when": {"age_min": 200}, "channels": ["sms"]}],
            "nodes[0].channel_rules[0].when.age_min",
            "须为 0–130 的整数",
        ),
        (
            [{"when": {"risk": ["high"]}, "channels": []}],
            "nodes[0].channel_rules[0].channels",
            "至少列出一个渠道",
        ),
        (
            [{"when": {"risk": ["high"]}, "channels": ["pigeon"]}],
            "nodes[0].channel_rules[0].channels[0]",
            "须为 phone、sms、wechat、wecom、app、voice、email、home_visit、clinic、video、"
            "letter 之一",
        ),
        (
            [{"when": {"lives_alone": "yes"}, "channels": ["sms"]}],
            "nodes[0].channel_rules[0].when.lives_alone",
            "须为 true 或 false",
        ),
    ],
)
def test_bad_rules_are_named(rules: Any, path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        definition(rules)
    assert (raised.value.path, raised.value.message) == (path, message)

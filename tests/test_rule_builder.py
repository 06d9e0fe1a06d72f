"""The rule builder's offer (``rules.builder``): every condition kind and action type, as the
builder first makes it and once its empty texts are filled, is accepted by the rule
language's own checks; choices offered are ones the checks accept."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.rules.actions import compile_actions
from careloop.rules.builder import builder_spec
from careloop.rules.conditions import KINDS, OPS, RuleError, compile_condition
from tests.test_patients_web import logged_in

pytestmark = pytest.mark.django_db


def _made(fields: list[dict[str, Any]], head: dict[str, Any]) -> dict[str, Any]:
    """What the builder puts in a new condition or action: the required fields' defaults,
    an empty text then typed in by the user."""
    made = dict(head)
    for field in fields:
        if field.get("optional") or field["default"] is None:
            continue
        made[field["key"]] = field["default"] if field["default"] != "" else "复查"
    return made


def test_every_kind_the_builder_makes_compiles() -> None:
    spec = builder_spec()
    assert list(spec["kinds"]) == KINDS
    assert [op for op, _text in spec["ops"]] == list(OPS)
    codes = {code for code, _name in spec["codes"]}
    assert {"8480-6", "14749-6"} <= codes
    for kind, entry in spec["kinds"].items():
        made = _made(entry["fields"], {"kind": kind})
        compile_condition(made, known_codes=codes)
        for field in entry["fields"]:
            for value, _label in field.get("choices", []):  # every offered choice is accepted
                compile_condition(
                    {**made, field["key"]: value if field["type"] != "multi" else [value]}
                )
    with pytest.raises(RuleError, match="tag"):
        compile_condition({"kind": "tag", "tag": ""})  # an empty text is named by the server


def test_every_action_the_builder_makes_compiles() -> None:
    spec = builder_spec()
    for kind, entry in spec["actions"].items():
        made = _made(entry["fields"], {"type": kind})
        compile_actions([made])
        for field in entry["fields"]:
            for value, _label in field.get("choices", []):
                compile_actions([{**made, field["key"]: value}])


def test_the_rule_page_carries_the_builder(bob: Any) -> None:
    from django.contrib.auth.models import Permission

    bob.user_permissions.add(Permission.objects.get(codename="change_rule"))
    page = logged_in(bob).get("/rules/new/").content.decode()
    assert 'id="rule-builder-spec"' in page and "rule-builder.js" in page
    assert 'data-rule-builder="condition"' in page and 'data-rule-builder="actions"' in page


def test_a_rule_raises_one_alert() -> None:
    alert = {"type": "alert", "severity": "high", "title": "复查"}
    with pytest.raises(RuleError, match=r"actions\[2\]"):
        compile_actions([alert, {"type": "tag", "tag": "x"}, alert])


def test_an_item_sent_under_several_codes_is_offered_as_all_of_them(db: None) -> None:
    """空腹血糖 is 14771-0 (mmol/L) or 1558-6 (mg/dL), both stored in mmol/L: a rule written
    on one code alone never sees the other, so both together come first."""
    offered = builder_spec()["codes"]
    together = [code for code, _name in offered if "," in code]
    assert "14771-0, 1558-6" in together or "1558-6, 14771-0" in together
    assert offered.index(next(o for o in offered if "," not in o[0])) == len(together)
    fasting = next(o for o in offered if "14771-0" in o[0] and "," in o[0])
    compile_condition(
        {"kind": "consecutive", "code": fasting[0].split(", "), "count": 2, "op": ">=", "value": 7}
    )


def test_symptoms_are_offered_in_the_pages_language_and_stored_in_chinese() -> None:
    from django.utils import translation

    from careloop.outreach.symptom_words import CANONICAL

    def offered() -> list[list[str]]:
        [field] = builder_spec()["kinds"]["symptom"]["fields"]
        return list(field["choices"])

    with translation.override("en"):
        english = offered()
    with translation.override("zh-hans"):
        chinese = offered()
    assert [value for value, _ in english] == list(CANONICAL)  # what a rule stores
    assert ["胸痛胸闷", "Chest pain or tightness"] in english
    assert ["自伤风险", "Risk of self-harm"] in english
    assert all(not any("\u4e00" <= c <= "\u9fff" for c in label) for _, label in english)
    assert chinese == [[s, s] for s in CANONICAL]


def test_the_builder_offers_the_pathways_the_user_sees_not_another_organisations(
    bob: Any, hospital: Any, community: Any
) -> None:
    from careloop.followup.models import Pathway
    from careloop.followup.pathways import load_pack

    load_pack()
    theirs = Pathway.objects.get(code="post-op")
    Pathway.objects.filter(pk=theirs.pk).update(organisation=community)
    offered = {code for code, _label in _pathways(builder_spec(bob))}
    assert offered and "post-op" not in offered  # the community centre's
    assert "post-op" in {c for c, _ in _pathways(builder_spec())}


def _pathways(spec: dict[str, Any]) -> list[list[str]]:
    return [
        choice
        for action in spec["actions"].values()
        for field in action["fields"]
        if field["key"] == "pathway"
        for choice in field.get("choices") or []
    ]

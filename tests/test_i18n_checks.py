"""The checks of pathways, rules and questionnaires say what is wrong in the page's language:
an English page reads English, the Chinese page reads as it always did (same words, the
list joined with 、)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import translation

from careloop.accounts.roles import Role
from careloop.followup.definition import DefinitionError, compile_definition
from careloop.followup.models import Pathway
from careloop.followup.pathways import load_pack as load_pathways
from careloop.questionnaires.definition import AnswerError, evaluate
from careloop.questionnaires.definition import compile_definition as compile_questionnaire
from careloop.questionnaires.models import Questionnaire
from careloop.questionnaires.services import load_pack as load_questionnaires
from careloop.rules.conditions import RuleError, compile_condition
from tests.factories import UserFactory
from tests.test_pathway_admin import _admin_client, _post_definition
from tests.test_rules_web import rule_form

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "zh-hans"]


def _in(client: Client, language: str) -> Client:
    client.cookies["django_language"] = language
    return client


def _errors(response: Any) -> str:
    """The text of the page's error lists and alerts, unescaped."""
    page = response.content.decode()
    found = re.findall(r"(?:errorlist|alert)[^>]*>(.*?)</(?:ul|div)>", page, re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", f) for f in found))


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "nodes[0].window: the end must be later than the start"),
        ("zh-hans", "nodes[0].window: 结束时间须晚于开始时间"),
    ],
)
def test_a_pathway_check_in_the_administration_speaks_the_pages_language(
    hospital: Any, language: str, said: str
) -> None:
    load_pathways()
    pathway = Pathway.objects.get(code="post-op")
    definition = json.loads(json.dumps(pathway.definition))
    definition["nodes"][0]["window"] = ["17:00", "09:00"]
    refused = _post_definition(_in(_admin_client(hospital), language), pathway, definition)
    assert refused.status_code == 200
    errors = _errors(refused)
    assert said in errors
    assert ("结束时间" in errors) is (language == "zh-hans")
    pathway.refresh_from_db()
    assert pathway.version == 1


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "check that the {% %} tags come in pairs"),
        ("zh-hans", "模板有误（请检查 {% %} 标签是否成对）"),
    ],
)
def test_a_pathway_script_that_does_not_compile_is_named_in_the_pages_language(
    hospital: Any, language: str, said: str
) -> None:
    load_pathways()
    pathway = Pathway.objects.get(code="post-op")
    definition = json.loads(json.dumps(pathway.definition))
    definition["nodes"][1]["script"] = {"opening": "{% if x %}"}
    refused = _post_definition(_in(_admin_client(hospital), language), pathway, definition)
    assert said in _errors(refused)


@pytest.fixture
def editor(hospital: Any) -> Any:
    user = UserFactory(organisation=hospital, role=Role.SUPERVISOR)
    user.user_permissions.add(Permission.objects.get(codename="change_rule"))
    return user


@pytest.mark.parametrize(
    ("language", "condition", "action"),
    [
        (
            "en",
            "condition.value: must be male or female",
            "actions[0].severity: must be one of critical, high, medium, low",
        ),
        (
            "zh-hans",
            "condition.value：须为 male 或 female",
            "actions[0].severity：须为 critical、high、medium、low 之一",
        ),
    ],
)
def test_a_rule_check_in_the_rule_builder_speaks_the_pages_language(
    editor: Any, language: str, condition: str, action: str
) -> None:
    client = Client()
    client.force_login(editor)
    _in(client, language)
    refused = client.post("/rules/new/", rule_form(condition='{"kind": "sex", "value": "x"}'))
    assert refused.status_code == 200
    assert refused.context["form"].errors["condition"] == [condition]
    assert condition in _errors(refused)
    alert = '[{"type": "alert", "severity": "urgent", "title": "收缩压过高"}]'
    refused = client.post("/rules/new/", rule_form(actions=alert))
    assert refused.context["form"].errors["actions"] == [action]


def test_a_rule_check_read_from_the_command_line_stays_chinese() -> None:
    """Outside a page (the ``rules`` command, logs), the default language: Chinese."""
    with pytest.raises(RuleError) as raised:
        compile_condition({"kind": "sex", "value": "x"})
    assert str(raised.value) == "condition.value: 须为 male 或 female"
    with translation.override("en"):
        assert raised.value.message == "must be male or female"


@pytest.fixture
def supervisor(bob: Any) -> Client:
    load_questionnaires()
    client = Client()
    client.force_login(bob)
    return client


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "items[0].type: must be one of choice, multi, number, text, date, scale, matrix"),
        ("zh-hans", "items[0].type: 须为 choice、multi、number、text、date、scale、matrix 之一"),
    ],
)
def test_a_questionnaire_check_in_the_builder_speaks_the_pages_language(
    supervisor: Client, language: str, said: str
) -> None:
    data = Questionnaire.objects.get(code="gad7").versions.get().definition
    broken = dict(data, items=[dict(data["items"][0], type="slider")])
    page = _in(supervisor, language).post(
        "/questionnaires/gad7/", {"definition": json.dumps(broken), "status": "active"}
    )
    assert page.status_code == 200
    assert said in html.unescape(page.content.decode())
    assert Questionnaire.objects.get(code="gad7").version == 1


@pytest.mark.parametrize(
    ("language", "skip", "scoring"),
    [
        (
            "en",
            "items[0].enable_when.item: must be an earlier question ('q2' is not)",
            "scoring.items[0]: 'q9' is not a question that can be scored",
        ),
        (
            "zh-hans",
            "items[0].enable_when.item: 须为前面的题目（'q2' 不是）",
            "scoring.items[0]: 'q9' 不是可计分的题目",
        ),
    ],
)
def test_skip_logic_and_scoring_checks_speak_the_pages_language(
    supervisor: Client, language: str, skip: str, scoring: str
) -> None:
    data = Questionnaire.objects.get(code="gad7").versions.get().definition
    items = data["items"]
    later = dict(data, items=[dict(items[0], enable_when={"item": "q2", "equals": "0"})])
    page = _in(supervisor, language).post(
        "/questionnaires/gad7/", {"definition": json.dumps(later)}
    )
    assert skip in html.unescape(page.content.decode())
    unscored = dict(data, scoring=dict(data.get("scoring") or {}, items=["q9"]))
    page = supervisor.post("/questionnaires/gad7/", {"definition": json.dumps(unscored)})
    assert scoring in html.unescape(page.content.decode())


def test_answers_are_checked_in_the_readers_language() -> None:
    definition = compile_questionnaire(
        {
            "code": "pain",
            "title": "疼痛",
            "items": [{"key": "pain", "type": "scale", "text": "疼痛评分", "min": 0, "max": 10}],
        }
    )
    for language, missing, out_of_range in [
        ("en", "an answer is required", "must be between 0 and 10"),
        ("zh-hans", "必答题", "须在 0–10 之间"),
    ]:
        with translation.override(language):
            with pytest.raises(AnswerError) as raised:
                evaluate(definition, {})
            assert raised.value.errors == {"pain": missing}
            with pytest.raises(AnswerError) as raised:
                evaluate(definition, {"pain": 11})
            assert raised.value.errors == {"pain": out_of_range}


def test_a_pathway_check_lists_choices_with_the_languages_separator() -> None:
    bad = {"trigger": {"kind": "manual"}, "nodes": [{"key": "a", "title": "一", "purpose": "x"}]}
    with pytest.raises(DefinitionError) as raised:
        compile_definition(bad)
    with translation.override("en"):
        assert raised.value.message.startswith("must be one of condition_tracking, ")
    with translation.override("zh-hans"):
        assert raised.value.message.startswith("须为 condition_tracking、")


CHECK_MODULES = [
    "careloop/followup/definition.py",
    "careloop/followup/pathways.py",
    "careloop/rules/conditions.py",
    "careloop/rules/actions.py",
    "careloop/rules/engine.py",
    "careloop/questionnaires/definition.py",
    "careloop/questionnaires/fhir.py",
    "careloop/questionnaires/services.py",
    "careloop/questionnaires/views.py",
    "careloop/interop/fhir/questionnaires.py",
]
ERRORS = {"DefinitionError", "RuleError", "Conflict", "CheckError"}


def test_every_check_message_is_marked_for_make_messages_and_translated() -> None:
    """``make messages`` keeps only the msgids it finds marked (``gettext_noop("…")``): a
    message passed bare would be dropped from the .po and read in English on Chinese pages."""
    import ast
    from pathlib import Path

    import polib

    root = Path(__file__).resolve().parent.parent
    catalogue = polib.pofile(str(root / "careloop/locale/zh_Hans/LC_MESSAGES/django.po"))
    translated = {e.msgid for e in catalogue.translated_entries() if e.msgctxt is None}
    found, bare = set(), []
    for module in CHECK_MODULES:
        for node in ast.walk(ast.parse((root / module).read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            name = node.func.id
            message = (
                node.args[1]
                if name in ERRORS and len(node.args) > 1
                else node.args[0]
                if name == "said" and node.args
                else None
            )
            parts = [message.body, message.orelse] if isinstance(message, ast.IfExp) else [message]
            for part in parts:
                if part is None:
                    continue
                if (
                    isinstance(part, ast.Call)
                    and isinstance(part.func, ast.Name)
                    and part.func.id == "gettext_noop"
                    and isinstance(part.args[0], ast.Constant)
                ):
                    found.add(part.args[0].value)
                else:
                    bare.append(f"{module}:{part.lineno}")
    assert not bare, bare
    assert len(found) > 90
    assert not found - translated, sorted(found - translated)

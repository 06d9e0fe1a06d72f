"""Pathways edited in the administration: each save is kept as a new version (the admin's own
save page, two-factor verified, as an administrator uses it)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from django.test import Client

from careloop.followup.definition import DefinitionError
from careloop.followup.models import Pathway
from careloop.followup.pathways import do_save_pathway, load_pack, pack_pathways
from careloop.questionnaires.services import load_pack as load_questionnaires
from careloop.questionnaires.services import pack_questionnaires
from tests.factories import UserFactory, two_factor_client


def _admin_client(hospital: Any) -> Client:
    admin = UserFactory(organisation=hospital, role="admin", is_staff=True, is_superuser=True)
    return two_factor_client(admin)


def _form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's inline of versions (its management form and ids)."""
    return dict(re.findall(r'name="(versions-[\w-]+)"[^>]*value="([^"]*)"', html))


def test_saving_a_pathway_in_the_administration_keeps_a_new_version(hospital: Any) -> None:
    load_pack()
    pathway = Pathway.objects.get(code="post-op")
    client = _admin_client(hospital)
    url = f"/admin/followup/pathway/{pathway.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert "\n  &quot;trigger&quot;: {\n" in page.content.decode()  # laid out, not one line
    definition = json.loads(json.dumps(pathway.definition))
    definition["nodes"][0]["count"] = 10
    data = {
        "name": pathway.name,
        "description": pathway.description,
        "organisation": "",
        "enabled": "on",
        "definition": json.dumps(definition, ensure_ascii=False),
        "note": "伤口观察缩短为10天",
        "_continue": "1",
        **_form_fields(page.content.decode()),
    }
    saved = client.post(url, data)
    errors = re.findall(r"errorlist[^>]*>(.*?)</ul>", saved.content.decode(), re.S)
    assert saved.status_code == 302, errors
    pathway.refresh_from_db()
    assert pathway.version == 2 and pathway.definition["nodes"][0]["count"] == 10
    assert pathway.versions.get(version=2).note == "伤口观察缩短为10天"


def _post_definition(client: Client, pathway: Pathway, definition: dict[str, Any]) -> Any:
    url = f"/admin/followup/pathway/{pathway.pk}/change/"
    page = client.get(url)
    data = {
        "name": pathway.name,
        "description": pathway.description,
        "organisation": "",
        "enabled": "on",
        "definition": json.dumps(definition, ensure_ascii=False),
        "note": "",
        "_continue": "1",
        **_form_fields(page.content.decode()),
    }
    return client.post(url, data)


def test_a_script_template_that_does_not_compile_is_refused(hospital: Any) -> None:
    load_pack()
    pathway = Pathway.objects.get(code="post-op")
    definition = json.loads(json.dumps(pathway.definition))
    definition["nodes"][1]["script"] = {"opening": "{% if x %}未闭合"}
    saved = _post_definition(_admin_client(hospital), pathway, definition)
    assert saved.status_code == 200
    errors = " ".join(re.findall(r"errorlist[^>]*>(.*?)</ul>", saved.content.decode(), re.S))
    assert "nodes[1].script.opening: 模板有误" in errors
    pathway.refresh_from_db()
    assert pathway.version == 1


def test_saving_a_pathway_elsewhere_checks_its_script_templates(db: None) -> None:
    definition = {
        "trigger": {"kind": "manual"},
        "nodes": [
            {"key": "a", "title": "一", "purpose": "condition_tracking"},
            {
                "key": "b",
                "title": "二",
                "purpose": "condition_tracking",
                "script": {"opening": "{{ salutation }}您好", "closing": "{{ name|nofilter }}"},
            },
        ],
    }
    with pytest.raises(DefinitionError) as raised:
        do_save_pathway(None, "bad-script", {"name": "坏话术", "definition": definition})
    assert raised.value.path == "nodes[1].script.closing"
    assert raised.value.message.startswith("模板有误")
    assert not Pathway.objects.filter(code="bad-script").exists()


def test_a_questionnaire_that_does_not_exist_is_refused(hospital: Any) -> None:
    load_pack()  # the shipped pathways load before (without) the questionnaire pack
    pathway = Pathway.objects.get(code="post-op")
    definition = json.loads(json.dumps(pathway.definition))
    definition["nodes"][0]["questionnaire"] = "nope"
    saved = _post_definition(_admin_client(hospital), pathway, definition)
    assert saved.status_code == 200
    errors = " ".join(re.findall(r"errorlist[^>]*>(.*?)</ul>", saved.content.decode(), re.S))
    assert "nodes[0].questionnaire" in errors and "nope" in errors
    pathway.refresh_from_db()
    assert pathway.version == 1
    with pytest.raises(DefinitionError) as raised:
        do_save_pathway(None, "post-op", {"name": pathway.name, "definition": definition})
    assert raised.value.path == "nodes[0].questionnaire"
    load_questionnaires()
    definition["nodes"][0]["questionnaire"] = "satisfaction"
    saved = _post_definition(_admin_client(hospital), pathway, definition)
    assert saved.status_code == 302


def test_the_shipped_pathways_name_only_shipped_questionnaires() -> None:
    shipped = {q["code"] for q in pack_questionnaires()}
    named = {
        node["questionnaire"]
        for item in pack_pathways()
        for node in item["definition"]["nodes"]
        if node.get("questionnaire")
    }
    assert named and named <= shipped


def test_the_programme_scripts_give_the_urgent_limits_inclusively() -> None:
    # REFERENCE §1.3: the urgent limits are inclusive (BP ≥180/110, glucose ≥16.7 or ≤3.9):
    # a patient told "above 180" or "above 16.7" would not come in at exactly the limit.
    closing = {
        item["code"]: item["definition"]["nodes"][0]["script"]["closing"]
        for item in pack_pathways()
        if item["code"] in ("htn-programme", "dm-programme")
    }
    assert "达到或超过180/110" in closing["htn-programme"]
    assert "16.7及以上或3.9及以下" in closing["dm-programme"]
    for text in closing.values():
        assert not re.search(r"(超过|高于|低于)(180|16\.7|3\.9)", text.replace("达到或超过", ""))


@pytest.mark.django_db
def test_a_deployments_programme_scripts_get_the_inclusive_limits_on_upgrade() -> None:
    """The pack reaches a database only by ``pathways load-pack``: the migration gives a
    programme still saying "超过180/110" a new version saying "达到或超过180/110" (new plans
    use it), leaves an edited closing alone, and does nothing the second time."""
    import importlib

    from django.apps import apps

    from careloop.followup.models import Pathway, PathwayVersion

    migration = importlib.import_module(
        "careloop.followup.migrations.0013_programme_scripts_inclusive_limits"
    )
    old_htn, old_dm = migration.CORRECTED
    shipped = {item["code"]: item for item in pack_pathways()}

    def save(code: str, closing: str) -> None:
        item = copy.deepcopy(shipped[code])
        item["definition"]["nodes"][0]["script"]["closing"] = closing
        data = {k: v for k, v in item.items() if k != "code"}
        do_save_pathway(None, code, data, check_questionnaires=False)

    save("htn-programme", old_htn)
    save("dm-programme", "血糖高于16.7请马上就医。")  # edited by the hospital
    migration.correct_scripts(apps, None)
    migration.correct_scripts(apps, None)

    htn = Pathway.objects.get(code="htn-programme")
    assert htn.version == 2
    closing = htn.versions.get(version=2).definition["nodes"][0]["script"]["closing"]
    assert closing == shipped["htn-programme"]["definition"]["nodes"][0]["script"]["closing"]
    assert htn.versions.get(version=1).definition["nodes"][0]["script"]["closing"] == old_htn
    assert PathwayVersion.objects.filter(pathway__code="dm-programme").count() == 1
    dm_now = shipped["dm-programme"]["definition"]["nodes"][0]["script"]["closing"]
    assert migration.CORRECTED[old_dm] == dm_now  # what the pack says now


def test_a_trigger_within_no_days_is_refused_not_read_as_seven(hospital: Any) -> None:
    """``within_days: 0`` was accepted and then planned as the default 7 days: a pathway
    meant for discharges of the day enrolled a week's."""
    definition = {
        "trigger": {"kind": "discharge", "icd10": ["I50"], "within_days": 0},
        "nodes": [{"key": "a", "title": "一", "purpose": "condition_tracking", "day": 1}],
    }
    with pytest.raises(DefinitionError) as raised:
        do_save_pathway(None, "same-day", {"name": "当日出院", "definition": definition})
    assert raised.value.path == "trigger.within_days"
    assert not Pathway.objects.filter(code="same-day").exists()

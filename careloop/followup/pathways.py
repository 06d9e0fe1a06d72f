"""Saving pathway templates (every version kept) and the shipped pack."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from careloop.audit.services import record
from careloop.followup.definition import Definition, DefinitionError, compile_definition
from careloop.followup.models import Pathway, PathwayVersion
from careloop.said import gettext_noop

PACK = Path(__file__).resolve().parent / "data" / "pathways.json"


@lru_cache(maxsize=512)
def _compiled(version_id: int, text: str) -> Definition:
    return compile_definition(json.loads(text))


def definition_of(version: PathwayVersion) -> Definition:
    """The compiled definition of a saved version (compiled once per process)."""
    return _compiled(version.pk, json.dumps(version.definition, sort_keys=True))


def current_version(pathway: Pathway) -> PathwayVersion:
    return PathwayVersion.objects.get(pathway=pathway, version=pathway.version)


def check_pathway(definition: Any, *, questionnaires: bool = True) -> Definition:
    """``compile_definition`` and what it cannot see without Django: every script part
    compiles as the template it is rendered with, and (with ``questionnaires``) each node's
    questionnaire exists. ``DefinitionError`` names the node and the part."""
    from careloop.followup.scripts import template_error
    from careloop.questionnaires.models import Questionnaire

    compiled = compile_definition(definition)
    for i, node in enumerate(compiled.nodes):
        for part, text in node.script.items():
            error = template_error(text) if text else ""
            if error:
                raise DefinitionError(
                    f"nodes[{i}].script.{part}",
                    gettext_noop(
                        "the template is wrong (check that the {%% %%} tags come in pairs): "
                        "%(error)s"
                    ),
                    error=error,
                )
    if questionnaires:
        codes = {node.questionnaire for node in compiled.nodes if node.questionnaire}
        known = set(Questionnaire.objects.filter(code__in=codes).values_list("code", flat=True))
        for i, node in enumerate(compiled.nodes):
            if node.questionnaire and node.questionnaire not in known:
                raise DefinitionError(
                    f"nodes[{i}].questionnaire",
                    gettext_noop("there is no questionnaire with the code %(code)s"),
                    code=repr(node.questionnaire),
                )
    return compiled


def do_save_pathway(
    actor: Any,
    code: str,
    data: dict[str, Any],
    *,
    note: str = "",
    check_questionnaires: bool = True,
) -> tuple[Pathway, bool]:
    """Create or change pathway ``code``: a new version only when the definition, name or
    trigger differ (running plans keep the version they started with). Returns (pathway,
    whether a version was added); ``DefinitionError`` when the definition is wrong
    (``check_pathway``; ``check_questionnaires=False`` leaves the questionnaires unchecked)."""
    definition = data["definition"]
    compiled = check_pathway(definition, questionnaires=check_questionnaires)
    fields = {
        "name": str(data["name"]).strip(),
        "description": str(data.get("description", "")),
        "trigger": compiled.trigger.kind,
        "definition": definition,
    }
    if not fields["name"]:
        raise DefinitionError("name", gettext_noop("must not be empty"))
    with transaction.atomic():
        pathway = Pathway.objects.select_for_update().filter(code=code).first()
        if pathway is not None and all(
            getattr(pathway, k) == v for k, v in fields.items() if k != "description"
        ):
            if pathway.description != fields["description"]:
                pathway.description = fields["description"]
                pathway.save(update_fields=["description"])
            return pathway, False
        if pathway is None:
            pathway = Pathway(code=code, version=1, **fields)
        else:
            for key, value in fields.items():
                setattr(pathway, key, value)
            pathway.version += 1
        if "enabled" in data:
            pathway.enabled = bool(data["enabled"])
        pathway.updated_by = actor
        pathway.updated_at = timezone.now()
        pathway.save()
        PathwayVersion.objects.create(
            pathway=pathway,
            version=pathway.version,
            name=pathway.name,
            trigger=pathway.trigger,
            definition=definition,
            saved_by=actor,
            note=note[:200],
        )
        record(
            actor,
            "update" if pathway.version > 1 else "create",
            "pathway",
            pathway.pk,
            summary=f"pathway {code} v{pathway.version}",
        )
    return pathway, True


def _inline_scripts(definition: dict[str, Any], scripts: dict[str, Any]) -> dict[str, Any]:
    """Nodes of the pack name a shared script (``"script": "discharge"``); saved
    definitions carry the text itself, so editing the library never changes a version."""
    nodes = []
    for node in definition["nodes"]:
        script = node.get("script")
        if isinstance(script, str):
            node = {**node, "script": scripts[script]}
        nodes.append(node)
    return {**definition, "nodes": nodes}


def pack_pathways() -> list[dict[str, Any]]:
    pack = json.loads(PACK.read_text(encoding="utf-8"))
    scripts = pack.get("scripts", {})
    return [
        {**item, "definition": _inline_scripts(item["definition"], scripts)}
        for item in pack["pathways"]
    ]


def load_missing(codes: set[str], actor: Any = None) -> list[str]:
    """Save the shipped pathways of ``codes`` that are not there yet (those there, perhaps
    changed by an administrator, are left as they are); returns the codes saved."""
    there = set(Pathway.objects.filter(code__in=codes).values_list("code", flat=True))
    saved = []
    for item in pack_pathways():
        if item["code"] in codes and item["code"] not in there:
            data = {k: v for k, v in item.items() if k != "code"}
            do_save_pathway(
                actor, item["code"], data, note="默认路径包", check_questionnaires=False
            )
            saved.append(item["code"])
    return saved


def load_pack(actor: Any = None) -> list[dict[str, Any]]:
    """Save every shipped pathway (a new version only where it differs). The questionnaires
    its nodes name are those of the questionnaire pack (a test holds them to it), which may
    be loaded after this: they are not looked up here."""
    done = []
    for item in pack_pathways():
        data = {k: v for k, v in item.items() if k != "code"}
        pathway, changed = do_save_pathway(
            actor, item["code"], data, note="默认路径包", check_questionnaires=False
        )
        done.append({"code": pathway.code, "version": pathway.version, "changed": changed})
    return done

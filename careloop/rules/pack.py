"""The default rule pack shipped with CareLoop (``data/default_pack.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from careloop.rules.services import do_save_rule

PACK = Path(__file__).resolve().parent / "data" / "default_pack.json"


def pack_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = json.loads(PACK.read_text(encoding="utf-8"))["rules"]
    return rules


def load_pack(actor: Any = None) -> list[dict[str, Any]]:
    """Save every rule of the pack (a new version only where it differs); returns what
    happened to each. The shipped pathways its rules enrol on are saved first where they
    are not there yet."""
    from careloop.followup.pathways import load_missing

    rules = pack_rules()
    enrolled = {
        action["pathway"]
        for item in rules
        for action in item.get("actions", [])
        if action.get("type") == "enrol"
    }
    load_missing(enrolled, actor)
    done = []
    for item in rules:
        data = {k: v for k, v in item.items() if k != "code"}
        rule, changed = do_save_rule(actor, item["code"], data)
        done.append({"code": rule.code, "version": rule.version, "changed": changed})
    return done

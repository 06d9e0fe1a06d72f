"""The chronic programme scripts' urgent limits said inclusively (REFERENCE §1.3), in the
pathways a deployment already has: the shipped pack reaches a database only through
``careloop pathways load-pack``, so a hospital that upgraded went on telling a patient at
exactly 180/110 or 16.7 mmol/L not to come in. A pathway whose current version still has a
shipped closing word for word gets a new version with the corrected one (running plans keep
theirs, as after any change); a closing someone edited is left alone."""

from __future__ import annotations

import copy
from typing import Any

from django.db import migrations
from django.utils import timezone

CORRECTED = {
    "如果血压超过180/110或者出现剧烈头痛、胸痛、说话不清，请马上就医。感谢您的配合！": (
        "如果血压达到或超过180/110，或者出现剧烈头痛、胸痛、说话不清，请马上就医。感谢您的配合！"
    ),
    "血糖高于16.7或低于3.9、意识不清、呼吸深快有烂苹果味时请马上就医。感谢您的配合！": (
        "血糖在16.7及以上或3.9及以下、意识不清、呼吸深快有烂苹果味时请马上就医。感谢您的配合！"
    ),
}
NOTE = "随访话术：紧急就医界限改为包含界值（达到或超过180/110；16.7及以上或3.9及以下）"


def _corrected(definition: Any) -> Any | None:
    """The definition with the shipped closings corrected; None when it has none of them."""
    changed = copy.deepcopy(definition)
    found = False
    for node in changed.get("nodes", []) if isinstance(changed, dict) else []:
        script = node.get("script") if isinstance(node, dict) else None
        if isinstance(script, dict) and script.get("closing") in CORRECTED:
            script["closing"] = CORRECTED[script["closing"]]
            found = True
    return changed if found else None


def correct_scripts(apps: Any, schema_editor: Any) -> None:
    Pathway = apps.get_model("followup", "Pathway")
    PathwayVersion = apps.get_model("followup", "PathwayVersion")
    for pathway in Pathway.objects.order_by("pk"):
        current = PathwayVersion.objects.filter(pathway=pathway, version=pathway.version).first()
        if current is None:
            continue
        definition = _corrected(current.definition)
        if definition is None:
            continue
        pathway.version += 1
        pathway.definition = definition
        pathway.updated_at = timezone.now()
        pathway.save(update_fields=["version", "definition", "updated_at"])
        PathwayVersion.objects.create(
            pathway=pathway,
            version=pathway.version,
            name=pathway.name,
            trigger=pathway.trigger,
            definition=definition,
            note=NOTE,
        )


class Migration(migrations.Migration):
    dependencies = [("followup", "0012_pathway_field_names")]

    operations = [migrations.RunPython(correct_scripts, migrations.RunPython.noop)]

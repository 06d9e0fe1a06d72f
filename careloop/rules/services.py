"""Saving rules (checked, versioned, audited) and tagging by hand."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from careloop.accounts.ownership import may_change_owned
from careloop.audit.services import record
from careloop.patients.models import Patient, PatientTag, Tag, TagEvent
from careloop.rules.engine import compile_rule
from careloop.rules.models import Rule, RuleVersion

RULE_FIELDS = [
    "name",
    "description",
    "trigger",
    "condition",
    "actions",
    "enabled",
    "cooldown_hours",
]


def draft_rule(code: str, data: dict[str, Any]) -> Rule:
    """An unsaved rule from a definition (to check or dry-run it before saving)."""
    rule = Rule(code=code, **{f: data[f] for f in RULE_FIELDS if f in data})
    rule.organisation = data.get("organisation")
    return rule


def do_save_rule(actor: Any, code: str, data: dict[str, Any]) -> tuple[Rule, bool]:
    """Create the rule ``code`` or save a new version with the fields in ``data`` changed;
    ``RuleError`` when the resulting definition is wrong. Returns (rule, changed): saving the
    same definition again changes nothing."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update().filter(code=code).first()
        creating = rule is None
        if rule is None:
            rule = Rule(code=code, version=0)
        before = {f: getattr(rule, f) for f in RULE_FIELDS} | {"organisation": rule.organisation_id}
        user = actor if getattr(actor, "is_authenticated", False) else None
        given = data.get("organisation", rule.organisation)
        if not creating and not may_change_owned(user, rule.organisation_id):
            raise PermissionDenied(f"rule {code} is for another organisation (or every one)")
        if not may_change_owned(user, given.pk if given is not None else None):
            raise PermissionDenied(f"rule {code} cannot be given to that organisation")
        for field in RULE_FIELDS:
            if field in data:
                setattr(rule, field, data[field])
        if "organisation" in data:
            rule.organisation = data["organisation"]
        compile_rule(rule)
        after = {f: getattr(rule, f) for f in RULE_FIELDS} | {"organisation": rule.organisation_id}
        if not creating and before == after:
            return rule, False
        rule.version += 1
        rule.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        rule.updated_at = timezone.now()
        rule.save()
        RuleVersion.objects.create(
            rule=rule,
            version=rule.version,
            name=rule.name,
            trigger=rule.trigger,
            condition=rule.condition,
            actions=rule.actions,
            cooldown_hours=rule.cooldown_hours,
            enabled=rule.enabled,
            saved_by=rule.updated_by,
            saved_at=rule.updated_at,
        )
        changed = sorted(k for k in after if creating or before[k] != after[k])
        record(
            rule.updated_by,
            "create" if creating else "update",
            "rule",
            rule.code,
            actor_label="" if rule.updated_by else "cli",
            summary=f"rule {rule.code} v{rule.version}: {', '.join(changed)}",
        )
    return rule, True


def do_tag_patient(actor: Any, patient: Patient, name: str, *, add: bool = True) -> bool:
    """Add (or remove) a tag by hand; True when it changed."""
    tag = Tag.objects.get_or_create(name=name.strip()[:50])[0]
    with transaction.atomic():
        if add:
            changed = PatientTag.objects.get_or_create(
                patient=patient, tag=tag, defaults={"added_by": actor}
            )[1]
        else:
            changed = bool(PatientTag.objects.filter(patient=patient, tag=tag).delete()[0])
        if changed:
            TagEvent.objects.create(
                patient=patient,
                tag=tag,
                action=TagEvent.Action.ADDED if add else TagEvent.Action.REMOVED,
                by=actor,
            )
            record(
                actor,
                "update",
                "patient",
                patient.pk,
                patient_id=patient.pk,
                summary=f"{'added' if add else 'removed'} tag {tag.name}",
            )
    return changed

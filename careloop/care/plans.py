"""Personal health plans (F13): drafted from the patient's profile and the advice library,
edited by the health manager, saved as versions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from careloop.audit.services import record
from careloop.care.advice import CATEGORIES, advise
from careloop.care.models import HealthPlan
from careloop.care.profile import profile_of
from careloop.clinical import catalogue
from careloop.patients.models import Patient
from careloop.rules.assessments import LABELS as MODEL_LABELS

MAX_SECTIONS = 40


class PlanError(ValueError):
    pass


def draft_sections(patient: Patient) -> list[dict[str, str]]:
    """One section per fitting advice entry, diet first, with why it was chosen (results by
    their catalogue names, risk models by theirs)."""
    items = {code: item.name for code, item in catalogue.current().items.items()}
    # The plan is a Chinese document (its reasons are kept with it and printed): the models'
    # names in it are too, whatever the language of the page that drafted it.
    with translation.override(settings.LANGUAGE_CODE):
        models = {model: str(label) for model, label in MODEL_LABELS.items()}
    found = advise(profile_of(patient), items, models)
    found.sort(key=lambda pair: CATEGORIES.index(pair[0].category))
    return [
        {
            "category": entry.category,
            "title": f"{entry.topic_label} · {entry.title}",
            "text": entry.text,
            "why": "；".join(why),
            "source": entry.code,
        }
        for entry, why in found
    ]


def clean_sections(sections: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for n, section in enumerate(sections):
        title = str(section.get("title", "")).strip()
        text = str(section.get("text", "")).strip()
        if not title and not text:
            continue  # an emptied section is removed
        if not title or not text:
            raise PlanError(_("Advice %(n)s needs a title and a text.") % {"n": n + 1})
        category = section.get("category", "lifestyle")
        out.append(
            {
                "category": category if category in CATEGORIES else "lifestyle",
                "title": title[:100],
                "text": text[:2000],
                "source": str(section.get("source", ""))[:40],
            }
        )
        why = str(section.get("why", "")).strip()
        if why:  # why the advice was drafted, kept through edits
            out[-1]["why"] = why[:500]
    if len(out) > MAX_SECTIONS:
        raise PlanError(_("At most %(n)s pieces of advice.") % {"n": MAX_SECTIONS})
    return out


def current_plan(patient: Patient, *, final: bool = False) -> HealthPlan | None:
    plans = HealthPlan.objects.filter(patient=patient)
    if final:
        plans = plans.filter(status=HealthPlan.Status.FINAL)
    return plans.first()


def do_save_plan(
    actor: Any, patient: Patient, sections: list[dict[str, Any]], goals: str, status: str
) -> HealthPlan:
    """Save a new version (PlanError names what is wrong)."""
    cleaned = clean_sections(sections)
    if not cleaned:
        raise PlanError(_("A health plan needs at least one piece of advice."))
    if status not in HealthPlan.Status.values:
        raise PlanError(_("Unknown status."))
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        last = HealthPlan.objects.filter(patient=patient).first()
        plan = HealthPlan.objects.create(
            patient=patient,
            version=(last.version + 1) if last else 1,
            status=status,
            goals=goals.strip()[:2000],
            sections=cleaned,
            saved_by=actor if getattr(actor, "is_authenticated", False) else None,
            saved_at=timezone.now(),
        )
        record(
            actor,
            "update" if last else "create",
            "health_plan",
            plan.pk,
            patient_id=patient.pk,
            summary=f"health plan v{plan.version} ({status})",
        )
    return plan

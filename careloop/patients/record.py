"""The health record's entries (diagnoses, encounters, history, family history, allergies,
medications): one registry, one way to add, change and delete them, each audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from careloop.audit.services import changes_between, record
from careloop.clinical.forms import ConditionForm, EncounterForm, ProcedureForm, clean_icd10
from careloop.clinical.models import Condition, Encounter, Procedure
from careloop.forms import PastDatesMixin, StyledFormMixin
from careloop.patients.access import can_change
from careloop.patients.models import Allergy, FamilyHistory, Medication, PastHistory, Patient

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _OptionalIcd10Mixin:
    def clean_icd10_code(self) -> str:
        value = self.cleaned_data.get("icd10_code") or ""  # type: ignore[attr-defined]
        return clean_icd10(value) if value.strip() else ""


def _model_form(model: type[models.Model], fields: list[str]) -> type[forms.ModelForm]:
    widgets: dict[str, Any] = {
        name: DATE for name in fields if isinstance(model._meta.get_field(name), models.DateField)
    }
    bases = (
        (StyledFormMixin, PastDatesMixin, _OptionalIcd10Mixin, forms.ModelForm)
        if "icd10_code" in fields
        else (StyledFormMixin, PastDatesMixin, forms.ModelForm)
    )
    base_form: Any = type("Form", bases, {})
    return forms.modelform_factory(model, form=base_form, fields=fields, widgets=widgets)


@dataclass(frozen=True)
class RecordKind:
    slug: str
    title: Any
    model: type[models.Model]
    form: type[forms.ModelForm]
    app_model: str = ""  # "clinical.condition": its own add/change/delete permissions

    def permission(self, action: str) -> str:
        """The permission to add, change or delete entries of this kind. Entries of the
        health record proper follow the patient ("patients.change_patient")."""
        if not self.app_model:
            return "patients.change_patient"
        app, model = self.app_model.split(".")
        return f"{app}.{action}_{model}"

    def items(self, patient: Patient) -> models.QuerySet[Any]:
        return self.model._default_manager.filter(patient=patient)


RECORD_KINDS: dict[str, RecordKind] = {
    kind.slug: kind
    for kind in [
        RecordKind("diagnosis", _("Diagnosis"), Condition, ConditionForm, "clinical.condition"),
        RecordKind("procedure", _("Procedure"), Procedure, ProcedureForm, "clinical.procedure"),
        RecordKind("encounter", _("Encounter"), Encounter, EncounterForm, "clinical.encounter"),
        RecordKind(
            "history",
            _("Past history"),
            PastHistory,
            _model_form(PastHistory, ["kind", "name", "icd10_code", "occurred_on", "note"]),
        ),
        RecordKind(
            "family",
            _("Family history"),
            FamilyHistory,
            _model_form(FamilyHistory, ["relation", "condition", "icd10_code", "note"]),
        ),
        RecordKind(
            "allergy",
            _("Allergy"),
            Allergy,
            _model_form(Allergy, ["substance", "reaction", "severity", "note"]),
        ),
        RecordKind(
            "medication",
            _("Medication"),
            Medication,
            _model_form(
                Medication,
                ["name", "category", "dose", "frequency", "started_on", "stopped_on", "note"],
            ),
        ),
    ]
}


def _snapshot(item: models.Model, form: forms.ModelForm) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in form.Meta.fields:  # type: ignore[attr-defined]
        value = getattr(item, name)
        values[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return values


def check_can(actor: Any, patient: Patient, kind: RecordKind, action: str) -> None:
    if not (actor.has_perm(kind.permission(action)) and can_change(actor, patient)):
        raise PermissionDenied(f"no permission to {action} this entry")


# Record entries that trigger rules: a new diagnosis or procedure (the trigger "diagnosis":
# 术后 is set by either); an encounter added or changed (an admission, a discharge).
_TRIGGERS = {Condition: "diagnosis", Procedure: "diagnosis", Encounter: "encounter"}


def do_save_item(
    actor: Any, patient: Patient, kind: RecordKind, form: forms.ModelForm
) -> models.Model:
    """Save a valid form as a new or changed entry of ``patient``'s record."""
    item = form.instance
    creating = item.pk is None
    check_can(actor, patient, kind, "add" if creating else "change")
    before = {} if creating else _snapshot(kind.model._default_manager.get(pk=item.pk), form)
    item.patient = patient
    if creating:
        for field in ("recorded_by", "created_by"):
            if hasattr(item, field):
                setattr(item, field, actor)
        if isinstance(item, Encounter | Procedure) and item.organisation_id is None:
            item.organisation = patient.organisation
    with transaction.atomic():
        if creating and isinstance(item, Procedure):
            # Save tapped twice (or the form sent again): the same procedure at the same time
            # is the one already recorded, not a second one (as a resent HL7 PR1 is).
            Patient.objects.select_for_update().filter(pk=patient.pk).first()
            twin = Procedure.objects.filter(
                patient=patient,
                code_system=item.code_system,
                code=item.code,
                performed_at=item.performed_at,
            ).first()
            if twin is not None:
                return twin
        item = form.save()
        record(
            actor,
            "create" if creating else "update",
            kind.slug,
            item.pk,
            patient_id=patient.pk,
            summary=f"{kind.slug} {'added' if creating else 'changed'}",
            changes=changes_between(before, _snapshot(item, form)),
        )
        trigger = _TRIGGERS.get(type(item))
        if trigger is not None and (creating or trigger == "encounter"):
            from careloop.rules.engine import run_for_event

            run_for_event(trigger, [patient.pk])
        if kind.slug in RISK_INPUTS and not (creating and trigger):
            _reassess(patient)
    return item


# Record entries the risk models read (diagnoses added are re-assessed by their trigger).
RISK_INPUTS = {"diagnosis", "history", "family", "medication"}


def _reassess(patient: Patient) -> None:
    from careloop.rules.assessments import reassess_records

    reassess_records([patient.pk])


def do_delete_item(actor: Any, patient: Patient, kind: RecordKind, item: models.Model) -> None:
    check_can(actor, patient, kind, "delete")
    with transaction.atomic():
        record(
            actor,
            "delete",
            kind.slug,
            item.pk,
            patient_id=patient.pk,
            summary=f"{kind.slug} deleted: {item}"[:200],
        )
        item.delete()
        if kind.slug in RISK_INPUTS:
            _reassess(patient)

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from careloop.clinical.icd10 import WELL_FORMED as ICD10
from careloop.clinical.icd10 import catalogue_name
from careloop.clinical.models import Condition, Encounter, Procedure
from careloop.clinical.procedures import (
    ICD9CM3,
    BadProcedureCode,
    is_surgery,
    procedure_code,
)
from careloop.forms import PastDatesMixin, StyledFormMixin

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def clean_icd10(value: str) -> str:
    code = value.strip().upper()
    if not ICD10.match(code):
        raise forms.ValidationError(_("An ICD-10 code looks like I10, E11.9 or I25.1."))
    return code


class ConditionForm(StyledFormMixin, PastDatesMixin, forms.ModelForm):
    """A diagnosis: the Chinese name is filled from the ICD-10 catalogue when left blank."""

    class Meta:
        model = Condition
        fields = ["icd10_code", "name", "clinical_status", "onset_date", "note"]
        widgets = {
            "onset_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "icd10_code": forms.TextInput(attrs={"list": "icd10-codes"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False

    def clean_icd10_code(self) -> str:
        return clean_icd10(self.cleaned_data["icd10_code"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        code, name = data.get("icd10_code"), (data.get("name") or "").strip()
        if code and not name:
            catalogued = catalogue_name(code)
            if catalogued is None:
                self.add_error(
                    "name", _("This code is not in the catalogue: enter the diagnosis name.")
                )
            else:
                data["name"] = self.instance.name = catalogued
        patient_id = self.instance.patient_id
        active = Condition.ClinicalStatus.ACTIVE
        if code and patient_id and data.get("clinical_status") == active:
            same = Condition.objects.filter(
                patient_id=patient_id, icd10_code=code, clinical_status=active
            ).exclude(pk=self.instance.pk)
            if same.exists():
                self.add_error(
                    "icd10_code", _("The record already has this diagnosis, still active.")
                )
        return data


class EncounterForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Encounter
        fields = [
            "kind",
            "started_at",
            "ended_at",
            "department",
            "reason",
            "visit_number",
            "charges",
        ]
        widgets = {"started_at": DATETIME, "ended_at": DATETIME}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("started_at", "ended_at"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("started_at"), data.get("ended_at")
        if start and end and end < start:
            self.add_error("ended_at", _("The end cannot be before the start."))
        return data


class ProcedureForm(StyledFormMixin, forms.ModelForm):
    """A procedure or operation: an ICD-9-CM-3 code (国家临床版) is checked and tells by
    itself whether it is an operation; another system's code is kept as entered."""

    class Meta:
        model = Procedure
        fields = ["code_system", "code", "name", "performed_at", "status", "is_surgery", "note"]
        widgets = {"performed_at": DATETIME}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["performed_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]  # type: ignore[attr-defined]
        self.fields["code_system"].help_text = _(
            "ICD-9-CM-3 (手术操作分类代码国家临床版), or the name of another code system."
        )
        self.fields["is_surgery"].help_text = _(
            "Set by itself for an ICD-9-CM-3 code (categories 00–86 are operations)."
        )

    def clean(self) -> dict[str, Any]:
        from django.utils import timezone

        data = super().clean() or {}
        code, system = data.get("code"), data.get("code_system") or ICD9CM3
        if code:
            try:
                data["code"], data["code_system"] = procedure_code(code, system)
            except BadProcedureCode:
                self.add_error("code", _("An ICD-9-CM-3 code looks like 36.06, 81.54 or 36.0601."))
            else:
                self.instance.code, self.instance.code_system = data["code"], data["code_system"]
                if data["code_system"] == ICD9CM3:
                    data["is_surgery"] = is_surgery(data["code"], ICD9CM3)
                    self.instance.is_surgery = data["is_surgery"]
        performed = data.get("performed_at")
        if performed and performed > timezone.now():
            self.add_error("performed_at", _("This date is still to come."))
        return data

"""Enrolment and edit forms. They collect input; validation is patients.validation's job."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from careloop.accounts.models import Organisation, Team, User
from careloop.accounts.roles import Role
from careloop.forms import StyledFormMixin
from careloop.patients import identity
from careloop.patients.access import is_owner, organisations_for
from careloop.patients.models import (
    Channel,
    ConsentRecord,
    DigitalLiteracy,
    Lifestyle,
    Patient,
    PatientContact,
    Sex,
    Tier,
)
from careloop.patients.validation import OWNER_FIELDS, PatientDataError

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
CONSENT_CHANNELS = [Channel.PHONE, Channel.SMS, Channel.WECHAT, Channel.VOICE, Channel.APP]
CONSENT_PURPOSES = [ConsentRecord.Purpose.FOLLOWUP, ConsentRecord.Purpose.EDUCATION]
# Masked on the patient page until an audited reveal, so never put into the edit page either:
# a blank field keeps the stored value.
IDENTIFIER_FIELDS = ("id_number", "phone", "passport", "mrn", "exam_number", "address")


def _ids(*values: int | None) -> list[int]:
    return [value for value in values if value is not None]


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name or obj.username


class PatientForm(StyledFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(
        label=_("Resident ID number"),
        required=False,
        max_length=30,
        help_text=_(
            "18 characters, or the 15 digits of a first-generation ID card (converted to 18). "
            "Sex and date of birth are taken from it."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=[("", "—"), *Sex.choices])
    birth_date = forms.DateField(label=_("Date of birth"), required=False, widget=DATE)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=30,
        help_text=_(
            "A mobile number, or a landline with its area code (010-62345678, an extension "
            "after 转). SMS goes to a mobile only."
        ),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    passport = forms.CharField(label=_("Passport number"), required=False, max_length=20)
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    mrn = forms.CharField(
        label=_("Medical record number"),
        required=False,
        max_length=40,
        help_text=_("The outpatient or inpatient number in your hospital system"),
    )
    exam_number = forms.CharField(label=_("Exam number"), required=False, max_length=40)
    # Querysets are narrowed to the user's scope in __init__.
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none()
    )
    care_team = forms.ModelChoiceField(
        label=_("Care team"), queryset=Team.objects.none(), required=False
    )
    responsible_doctor = StaffChoiceField(
        label=_("Responsible doctor"), queryset=User.objects.none(), required=False
    )
    health_manager = StaffChoiceField(
        label=_("Health manager"), queryset=User.objects.none(), required=False
    )
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"), required=False, choices=[("", "—"), *Channel.choices]
    )
    quiet_hours_start = forms.TimeField(
        label=_("Do not contact from"), initial=time(21, 0), widget=TIME
    )
    quiet_hours_end = forms.TimeField(label=_("until"), initial=time(8, 0), widget=TIME)
    digital_literacy = forms.ChoiceField(
        label=_("Digital literacy"), choices=DigitalLiteracy.choices, initial=DigitalLiteracy.MEDIUM
    )
    lives_alone = forms.BooleanField(label=_("Lives alone"), required=False)
    risk_tier = forms.ChoiceField(
        label=_("Risk tier"),
        required=False,
        choices=[("", _("not stratified")), *Tier.choices],
        help_text=_("Rules set it too, when a result or an assessment calls for it"),
    )
    consents = forms.MultipleChoiceField(
        label=_("Consent given"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        choices=[
            # Lazily joined: an f-string here froze the labels in the language of import.
            (
                f"{purpose.value}:{channel.value}",
                format_lazy("{} · {}", purpose.label, channel.label),
            )
            for purpose in CONSENT_PURPOSES
            for channel in CONSENT_CHANNELS
        ],
    )

    def __init__(
        self, *args: Any, user: Any, patient: Patient | None = None, **kwargs: Any
    ) -> None:
        self.patient = patient
        if patient is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_for(patient)
        super().__init__(*args, **kwargs)
        organisations = organisations_for(user)
        if patient is not None:
            # The current values are always offered, even outside the editor's own scope.
            organisations = organisations | Organisation.objects.filter(pk=patient.organisation_id)
        self._set_queryset("organisation", organisations)
        if patient is None and getattr(user, "organisation", None) is not None:
            self.fields["organisation"].initial = user.organisation
        teams = Team.objects.filter(organisation__in=organisations)
        staff = User.objects.filter(is_active=True, organisation__in=organisations)
        if patient is not None:  # those who can open the patient: its organisation or above
            staff = User.objects.filter(
                is_active=True, organisation_id__in=patient.organisation.lineage
            )
        doctors = staff.filter(groups__name=Role.DOCTOR)
        managers = staff.filter(groups__name=Role.HEALTH_MANAGER)
        if patient is not None:
            teams = teams | Team.objects.filter(pk__in=_ids(patient.care_team_id))
            doctors = doctors | User.objects.filter(pk__in=_ids(patient.responsible_doctor_id))
            managers = managers | User.objects.filter(pk__in=_ids(patient.health_manager_id))
        self._set_queryset("care_team", teams.select_related("organisation").distinct())
        self._set_queryset("responsible_doctor", doctors.distinct())
        self._set_queryset("health_manager", managers.distinct())
        if patient is not None and not is_owner(user, patient):
            for name in OWNER_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Set by the patient's own organisation.")
        if patient is not None:
            del self.fields["consents"]
            # Stored identifiers are never put into the page: a blank field keeps them.
            from careloop.patients.services import record_numbers

            numbers = record_numbers(patient)
            for field in IDENTIFIER_FIELDS:
                if field in numbers:
                    masked = identity.mask_record_number(numbers[field])
                else:
                    masked = getattr(patient, f"masked_{field}")
                if masked:
                    self.fields[field].widget.attrs["placeholder"] = masked
                    self.fields[field].help_text = _("Leave blank to keep %(value)s.") % {
                        "value": masked
                    }

    def _set_queryset(self, name: str, queryset: Any) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = queryset

    def to_data(self) -> dict[str, Any]:
        data = {key: value for key, value in self.cleaned_data.items() if key != "consents"}
        if self.patient is not None:
            for field in IDENTIFIER_FIELDS:
                if not data.get(field):
                    data.pop(field, None)
        else:
            data["consents"] = [
                {"purpose": value.split(":")[0], "channel": value.split(":")[1], "granted": True}
                for value in self.cleaned_data.get("consents", [])
            ]
        return data

    def add_data_errors(self, error: PatientDataError) -> list[tuple[str, str]]:
        """Put service errors on their fields; return those that belong to no field here."""
        leftover = []
        for field, messages in error.errors.items():
            for message in messages:
                if field in self.fields:
                    self.add_error(field, message)
                else:
                    leftover.append((field, message))
        return leftover


def initial_for(patient: Patient) -> dict[str, Any]:
    initial = {
        field: getattr(patient, field)
        for field in (
            "name",
            "sex",
            "birth_date",
            "organisation",
            "care_team",
            "responsible_doctor",
            "health_manager",
            "preferred_channel",
            "quiet_hours_start",
            "quiet_hours_end",
            "digital_literacy",
            "lives_alone",
            "risk_tier",
        )
    }
    return initial


class ContactForm(StyledFormMixin, forms.Form):
    contact_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    relation = forms.ChoiceField(
        label=_("Relation"),
        choices=PatientContact.Relation.choices,
        initial=PatientContact.Relation.CHILD,
    )
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    is_guardian = forms.BooleanField(label=_("Guardian"), required=False)
    is_emergency = forms.BooleanField(label=_("Emergency contact"), required=False)


ContactFormSet = forms.formset_factory(ContactForm, extra=1, can_delete=True, max_num=10)


def contacts_from(formset: Any) -> tuple[list[dict[str, Any]], list[forms.Form]]:
    """Filled-in, not-deleted rows of the contact formset, and the form of each row."""
    rows, row_forms = [], []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", {})
        if not data or data.get("DELETE") or not (data.get("name") or data.get("phone")):
            continue
        rows.append({k: v for k, v in data.items() if k != "DELETE"})
        row_forms.append(form)
    return rows, row_forms


def put_contact_errors(
    problems: list[tuple[str, str]], row_forms: list[forms.Form]
) -> list[tuple[str, str]]:
    """Move "contacts[i].field" errors onto the contact rows; return the others."""
    import re

    leftover = []
    for field, message in problems:
        match = re.fullmatch(r"contacts\[(\d+)\]\.(\w+)", field)
        if match and int(match[1]) < len(row_forms) and match[2] in row_forms[int(match[1])].fields:
            row_forms[int(match[1])].add_error(match[2], message)
        else:
            leftover.append((field, message))
    return leftover


class ConsentForm(StyledFormMixin, forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentRecord.Purpose.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    granted = forms.TypedChoiceField(
        label=_("Answer"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("consent given")), ("no", _("consent withdrawn"))],
    )
    method = forms.ChoiceField(label=_("How"), choices=ConsentRecord.Method.choices)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class LifestyleForm(StyledFormMixin, forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("smoking") == Lifestyle.Smoking.NEVER and data.get("cigarettes_per_day"):
            self.add_error(
                "cigarettes_per_day", _("Someone who never smoked smokes no cigarettes a day.")
            )
        return data

    class Meta:
        model = Lifestyle
        fields = [
            "smoking",
            "cigarettes_per_day",
            "drinking",
            "alcohol_liang_per_day",
            "exercise_times_per_week",
            "exercise_minutes",
            "salt_intake",
            "vegetables_fruit_daily",
            "diet",
        ]


class ShareForm(StyledFormMixin, forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Share with"), queryset=Organisation.objects.none()
    )
    can_edit = forms.BooleanField(label=_("May also change the record"), required=False)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        required=False,
        help_text=_("e.g. referred to the community centre for routine follow-up"),
    )

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        from careloop.patients.services import share_targets

        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = share_targets(patient)

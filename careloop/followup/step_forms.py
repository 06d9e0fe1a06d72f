"""Forms for what follows a follow-up: handling an alert, raising one, referring the patient,
requesting and booking a revisit, adding a note, answering a referral."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.accounts.models import Organisation, User
from careloop.followup.alert_flow import Action
from careloop.followup.models import Alert, Referral
from careloop.forms import StyledFormMixin


class TransitionForm(StyledFormMixin, forms.Form):
    action = forms.ChoiceField(choices=Action.choices, widget=forms.HiddenInput)
    resolution = forms.ChoiceField(
        label=_("How it ended"),
        required=False,
        choices=[("", "—"), *Alert.Resolution.choices],
    )
    outcome = forms.CharField(
        label=_("What was done"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    assignee = forms.ModelChoiceField(
        label=_("Assign to"), required=False, queryset=User.objects.none()
    )

    def __init__(self, *args: Any, staff: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if staff is not None:
            cast(forms.ModelChoiceField, self.fields["assignee"]).queryset = staff


class RaiseAlertForm(StyledFormMixin, forms.Form):
    severity = forms.ChoiceField(
        label=_("Severity"), choices=Alert.Severity.choices, initial=Alert.Severity.HIGH
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    reason = forms.CharField(
        label=_("Why"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReferForm(StyledFormMixin, forms.Form):
    to_organisation = forms.ModelChoiceField(
        label=_("Refer to"), queryset=Organisation.objects.none()
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=Referral.Urgency.choices, initial=Referral.Urgency.ROUTINE
    )
    transfer = forms.BooleanField(
        label=_("Hand over follow-up to them"),
        required=False,
        help_text=_("On acceptance the receiving organisation takes over the patient."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, targets: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if targets is not None:
            cast(forms.ModelChoiceField, self.fields["to_organisation"]).queryset = targets


class RevisitForm(StyledFormMixin, forms.Form):
    wanted_on = forms.DateField(
        label=_("Wanted on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    department = forms.CharField(label=_("Department"), required=False, max_length=100)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def clean_wanted_on(self) -> Any:
        wanted = self.cleaned_data["wanted_on"]
        if wanted < timezone.localdate():
            raise forms.ValidationError(_("The date is in the past."))
        return wanted


class BookForm(StyledFormMixin, forms.Form):
    appointment_at = forms.DateTimeField(
        label=_("Appointment"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


class NoteForm(StyledFormMixin, forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class DecideForm(StyledFormMixin, forms.Form):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("decline", _("Decline"))])
    decision_note = forms.CharField(label=_("Answer"), required=False, max_length=2000)

"""Message templates for staff: the list (the organisation's, its parents' and the
platform's, plus the built-in texts) and a preview that renders a template — saved, or being
written — for a patient the user may see, or for a sample patient."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from careloop.accounts.models import Organisation
from careloop.audit.services import record
from careloop.followup.models.pathways import Purpose
from careloop.forms import StyledFormMixin
from careloop.outreach.compose import context_for, default_text
from careloop.outreach.config import channel_config
from careloop.outreach.models import MessageTemplate
from careloop.outreach.models.channels import AUTOMATED
from careloop.outreach.preview import preview, sample_patient, sample_task
from careloop.patients.access import patients_for
from careloop.patients.services import search_patients
from careloop.typing import AuthedRequest


def visible_templates(user: Any) -> QuerySet[MessageTemplate]:
    everything = MessageTemplate.objects.all()
    if user.is_superuser or user.organisation_id is None:
        return everything
    lineage = user.organisation.lineage
    return everything.filter(Q(organisation_id__in=lineage) | Q(organisation__isnull=True))


class PreviewForm(StyledFormMixin, forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=AUTOMATED)
    subject = forms.CharField(label=_("Subject"), required=False, max_length=200)
    body = forms.CharField(
        label=_("Text"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Django template language. Variables: {{ salutation }} (张阿姨), {{ surname }}, "
            "{{ hospital }}, {{ title }} (the follow-up), {{ due_date }}."
        ),
    )
    patient = forms.CharField(
        label=_("Preview for patient"),
        required=False,
        max_length=60,
        help_text=_("Name, phone, ID or card number. Empty: a sample patient."),
    )


@login_required
@permission_required("outreach.view_message", raise_exception=True)
def template_list(request: AuthedRequest) -> HttpResponse:
    rows = visible_templates(request.user).select_related("organisation")
    defaults = [(value, label, default_text(value, "sms")) for value, label in Purpose.choices]
    return render(request, "outreach/templates.html", {"templates": rows, "defaults": defaults})


@login_required
@permission_required("outreach.view_message", raise_exception=True)
def template_preview(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    template = get_object_or_404(visible_templates(request.user), pk=pk) if pk else None
    if request.method == "POST":
        form = PreviewForm(request.POST)
    else:
        purpose = request.GET.get("purpose") or "condition_tracking"
        channel = request.GET.get("channel") or "sms"
        form = PreviewForm(
            initial={
                "purpose": template.purpose if template else purpose,
                "channel": template.channel if template else channel,
                "subject": template.subject if template else "",
                "body": template.body if template else default_text(purpose, channel),
            }
        )
    shown, who, matched = None, None, 0
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        who, matched = _chosen_patient(request, form, data["patient"])
        if not form.errors:
            shown = _render(request, data, who)
    return render(
        request,
        "outreach/template_preview.html",
        {"form": form, "template": template, "shown": shown, "who": who, "matched": matched},
    )


def _chosen_patient(request: AuthedRequest, form: PreviewForm, query: str) -> tuple[Any, int]:
    """The patient to preview for (None: the sample one) and how many the query matched (the
    first is shown; the page says so when there are more); an error on the form when the
    query matches nobody the user may see."""
    if not query:
        return None, 0
    found_all = search_patients(patients_for(request.user), query).order_by("name", "pk")
    matched = found_all.count()
    found = found_all.first() if matched else None
    if found is None:
        form.add_error("patient", _("No patient you may see matches this."))
        return None, 0
    record(
        request.user,
        "view",
        "patient",
        found.pk,
        patient_id=found.pk,
        summary="message template previewed for the patient",
    )
    return found, matched


def _render(request: AuthedRequest, data: dict[str, Any], who: Any) -> Any:
    patient = who or sample_patient()
    organisation = (
        Organisation.objects.get(pk=patient.organisation_id)
        if patient.organisation_id
        else request.user.organisation
    )
    hospital = "某某医院"
    sign = ""
    if organisation is not None:
        hospital = Organisation.objects.get(pk=organisation.lineage[0]).name
        if data["channel"] == "sms":
            sign = str(channel_config(organisation.pk, "sms").settings.get("sign_name", ""))
    context = context_for(patient, sample_task(), hospital)
    return preview(data["body"], data["subject"], data["channel"], context, sign)

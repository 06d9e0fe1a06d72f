"""Staff pages for patients: list and search, enrol, patient page, edit, reveal, record."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.clinical import trends
from careloop.clinical.models import DiagnosticReport, Icd10Code
from careloop.followup.models import Alert, LostRiskScore
from careloop.followup.step_views import patient_referrals_context
from careloop.followup.views import patient_plans_context
from careloop.ids import row_id
from careloop.patients import identity, services
from careloop.patients.access import (
    can_change,
    get_patient_for,
    organisations_for,
    patients_for,
)
from careloop.patients.forms import (
    ConsentForm,
    ContactFormSet,
    LifestyleForm,
    PatientForm,
    ShareForm,
    contacts_from,
    put_contact_errors,
)
from careloop.patients.models import Lifestyle, Patient, Sex
from careloop.patients.record import RECORD_KINDS, do_delete_item, do_save_item
from careloop.patients.timeline import build_timeline
from careloop.patients.validation import PatientDataError
from careloop.rules import assessments as risk_assessments

view_required = permission_required("patients.view_patient", raise_exception=True)


@login_required
@view_required
def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    queryset = services.search_patients(patients_for(request.user), query)
    organisation_id = request.GET.get("organisation", "").strip()
    if organisation_id.isascii() and organisation_id.isdigit():
        # A number too long to be an organisation's id is none of them: nothing listed.
        queryset = queryset.filter(organisation_id=row_id(organisation_id) or 0)
    sex = request.GET.get("sex", "")
    if sex in Sex.values:
        queryset = queryset.filter(sex=sex)
    queryset = queryset.select_related("organisation")
    page = Paginator(queryset, 25).get_page(request.GET.get("page"))
    record(
        request.user,
        "search" if query else "list",
        "patient",
        summary=services.describe_search(query) + f" (page {page.number})",
        changes={"shown": [p.pk for p in page]},
    )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "patients/list.html",
        {
            "page": page,
            "query": query,
            "organisations": organisations_for(request.user),
            "organisation_id": organisation_id,
            "sex": sex,
            "sexes": Sex.choices,
            "querystring": params.urlencode(),
        },
    )


def _duplicate_message(request: HttpRequest, error: services.DuplicatePatientError) -> str:
    message, existing = services.duplicate_explanation(request.user, error)
    if existing is None:
        return message
    return format_html(
        '{} <a href="{}" class="alert-link">{}</a>',
        message,
        existing.get_absolute_url(),
        _("Open %(name)s (card %(card)s)")
        % {"name": existing.name, "card": existing.formatted_card_number},
    )


def _tell_converted(request: HttpRequest, form: PatientForm, patient: Patient) -> None:
    """A 15-digit first-generation ID number typed is kept as its 18-digit number: say so."""
    if identity.is_first_generation(form.cleaned_data.get("id_number") or ""):
        messages.info(
            request,
            _(
                "The 15-digit first-generation ID number was converted to its 18-digit "
                "number %(number)s; the sex and date of birth were taken from it."
            )
            % {"number": patient.masked_id_number},
        )


@login_required
@permission_required("patients.add_patient", raise_exception=True)
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None, user=request.user)
    contacts = ContactFormSet(request.POST or None, prefix="contacts")
    problems: list[tuple[str, str]] = []
    duplicate = ""
    if request.method == "POST" and form.is_valid() and contacts.is_valid():
        rows, row_forms = contacts_from(contacts)
        try:
            patient = services.do_enrol_patient(request.user, form.to_data() | {"contacts": rows})
        except PatientDataError as error:
            problems = put_contact_errors(form.add_data_errors(error), row_forms)
        except services.DuplicatePatientError as error:
            duplicate = _duplicate_message(request, error)
        else:
            messages.success(
                request,
                _("%(name)s is enrolled. Member card number: %(card)s.")
                % {"name": patient.name, "card": patient.formatted_card_number},
            )
            _tell_converted(request, form, patient)
            return redirect(patient)
    return render(
        request,
        "patients/form.html",
        {
            "form": form,
            "contacts": contacts,
            "problems": problems,
            "duplicate": duplicate,
            "creating": True,
        },
    )


@login_required
@view_required
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    form = PatientForm(request.POST or None, user=request.user, patient=patient)
    initial_contacts = [
        {
            "contact_id": c.pk,
            "name": c.name,
            "relation": c.relation,
            "phone": "",
            "is_guardian": c.is_guardian,
            "is_emergency": c.is_emergency,
        }
        for c in patient.contacts.all()
    ]
    contacts = ContactFormSet(request.POST or None, prefix="contacts", initial=initial_contacts)
    problems: list[tuple[str, str]] = []
    duplicate = ""
    if request.method == "POST" and form.is_valid() and contacts.is_valid():
        rows, row_forms = contacts_from(contacts)
        # Stored phones are not put in the page: a blank phone keeps the contact's own.
        stored = {c.pk: c.phone for c in patient.contacts.all()}
        for row in rows:
            contact_id = row.pop("contact_id", None)
            if not row["phone"] and contact_id in stored:
                row["phone"] = stored[contact_id]
        try:
            services.do_update_patient(request.user, patient, form.to_data() | {"contacts": rows})
        except PatientDataError as error:
            problems = put_contact_errors(form.add_data_errors(error), row_forms)
        except services.DuplicatePatientError as error:
            duplicate = _duplicate_message(request, error)
        else:
            messages.success(request, _("Changes saved."))
            _tell_converted(request, form, patient)
            return redirect(patient)
    return render(
        request,
        "patients/form.html",
        {
            "form": form,
            "contacts": contacts,
            "problems": problems,
            "duplicate": duplicate,
            "creating": False,
            "patient": patient,
        },
    )


@login_required
@view_required
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    record(request.user, "view", "patient", patient.pk, patient_id=patient.pk)
    user = request.user
    sections = [
        {
            "kind": kind,
            "items": list(kind.items(patient)),
            "can_add": user.has_perm(kind.permission("add")),
            "can_change": user.has_perm(kind.permission("change")),
            "can_delete": user.has_perm(kind.permission("delete")),
        }
        for kind in RECORD_KINDS.values()
    ]
    return render(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "record_numbers": [
                f"{item.get_kind_display()} ({item.system}): {item.masked_value}"
                for item in patient.identifiers.all()
            ],
            "contacts": patient.contacts.all(),
            "consents": sorted(
                services.current_consents(patient).values(), key=lambda c: (c.purpose, c.channel)
            ),
            "consent_history": patient.consents.select_related("recorded_by")[:50],
            "consent_form": ConsentForm(),
            "sections": sections,
            "lifestyle": Lifestyle.objects.filter(patient=patient).first(),
            "timeline": build_timeline(patient),
            "can_change": can_change(user, patient),
            "can_reveal_phone": services.can_reveal(user, "phone"),
            "can_reveal_identifier": services.can_reveal(user, "id_number"),
            "shares": patient.shares.select_related("organisation", "shared_by"),
            "alerts": patient.alerts.exclude(
                status__in=[Alert.Status.RESOLVED, Alert.Status.VERIFIED]
            ),
            "reports": trends.latest_reports(patient),
            "indicators": trends.indicators(patient),
            "year_over_year": trends.year_over_year(patient),
            "share_form": ShareForm(patient=patient),
            "tags": patient.tags.select_related("tag", "rule").order_by("tag__name"),
            "firings": patient.rule_firings.select_related("rule")[:20],
            **questionnaires_context(user, patient),
            "assessments": risk_assessments.for_patient(patient.pk),
            "lost_risk": LostRiskScore.objects.filter(patient=patient)
            .select_related("model")
            .first(),
            "can_share": services.can_share(user, patient),
            **patient_plans_context(user, patient),
            **patient_referrals_context(user, patient),
        },
    )


def questionnaires_context(user: Any, patient: Patient) -> dict[str, Any]:
    from careloop.questionnaires.access import usable_for
    from careloop.questionnaires.models import Questionnaire, QuestionnaireResponse

    if not user.has_perm("questionnaires.view_questionnaireresponse"):
        return {}
    can_fill = user.has_perm("questionnaires.add_questionnaireresponse")
    return {
        "questionnaires": Questionnaire.objects.filter(
            usable_for(patient.organisation), status=Questionnaire.Status.ACTIVE
        )
        if can_fill
        else [],
        "answered": QuestionnaireResponse.objects.filter(patient=patient).select_related(
            "version__questionnaire"
        )[:20],
    }


@login_required
@require_POST
def patient_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    patient = get_patient_for(request.user, pk)
    if field not in services.REVEAL_PERMISSIONS:
        raise Http404("unknown field")
    value = services.do_reveal(request.user, patient, field)
    return render(request, "patients/_revealed.html", {"value": value, "field": field})


@login_required
@require_POST
def share_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    form = ShareForm(request.POST, patient=patient)
    if form.is_valid():
        services.do_share_patient(
            request.user,
            patient,
            form.cleaned_data["organisation"],
            can_edit=form.cleaned_data["can_edit"],
            reason=form.cleaned_data["reason"],
        )
        messages.success(
            request,
            _("The record is shared with %(org)s.")
            % {"org": form.cleaned_data["organisation"].name},
        )
    else:
        messages.error(request, _("Choose an organisation to share the record with."))
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#overview")


@login_required
@require_POST
def share_remove(request: HttpRequest, pk: int, share_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    share = patient.shares.filter(pk=share_id).first()
    if share is None:
        raise Http404("no such share")
    services.do_unshare_patient(request.user, patient, share)
    messages.success(
        request,
        _("The record is no longer shared with %(org)s.") % {"org": share.organisation.name},
    )
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#overview")


@login_required
@require_POST
def consent_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    form = ConsentForm(request.POST)
    if form.is_valid():
        services.do_record_consent(request.user, patient, **form.cleaned_data)
        messages.success(request, _("Consent recorded."))
    else:
        messages.error(
            request, _("The consent was not recorded: choose a purpose, channel and answer.")
        )
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#consent")


def _kind(slug: str) -> Any:
    kind = RECORD_KINDS.get(slug)
    if kind is None:
        raise Http404("unknown record kind")
    return kind


@login_required
@view_required
def record_item(
    request: HttpRequest, pk: int, kind: str, item_id: int | None = None
) -> HttpResponse:
    """Add (item_id None) or change one entry of the health record."""
    patient = get_patient_for(request.user, pk, write=True)
    record_kind = _kind(kind)
    if not request.user.has_perm(record_kind.permission("add" if item_id is None else "change")):
        raise PermissionDenied
    instance = None
    if item_id is not None:
        instance = record_kind.items(patient).filter(pk=item_id).first()
        if instance is None:
            raise Http404("no such entry")
    if instance is None:  # a new entry knows its patient (a diagnosis checks for its twin)
        instance = record_kind.model(patient=patient)
    form = record_kind.form(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        do_save_item(request.user, patient, record_kind, form)
        messages.success(request, _("%(what)s saved.") % {"what": record_kind.title})
        return redirect(reverse("patients:detail", args=[patient.pk]) + "#record")
    return render(
        request,
        "patients/record_form.html",
        {
            "patient": patient,
            "kind": record_kind,
            "form": form,
            "instance": instance if instance.pk is not None else None,  # "Add" or "Change"
            "icd10": Icd10Code.objects.all() if "icd10_code" in form.fields else [],
        },
    )


@login_required
@view_required
@require_POST
def record_delete(request: HttpRequest, pk: int, kind: str, item_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    record_kind = _kind(kind)
    instance = record_kind.items(patient).filter(pk=item_id).first()
    if instance is None:
        raise Http404("no such entry")
    do_delete_item(request.user, patient, record_kind, instance)
    messages.success(request, _("%(what)s deleted.") % {"what": record_kind.title})
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#record")


@login_required
@view_required
def lifestyle_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    instance = Lifestyle.objects.filter(patient=patient).first() or Lifestyle(patient=patient)
    form = LifestyleForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.do_save_lifestyle(request.user, patient, form)
        messages.success(request, _("Lifestyle saved."))
        return redirect(reverse("patients:detail", args=[patient.pk]) + "#record")
    return render(
        request,
        "patients/record_form.html",
        {
            "patient": patient,
            "form": form,
            "lifestyle": True,
        },
    )


@login_required
@view_required
def trend_data(request: HttpRequest, pk: int, key: str) -> JsonResponse:
    """One indicator's points and reference band, for the chart."""
    patient = get_patient_for(request.user, pk)
    record(
        request.user, "view", "observation", patient_id=patient.pk, summary=f"trend chart of {key}"
    )
    return JsonResponse(trends.series(patient, key))


@login_required
@view_required
def report_detail(request: HttpRequest, pk: int, report_id: int) -> HttpResponse:
    """An exam report with its results and their flags."""
    patient = get_patient_for(request.user, pk)
    report = get_object_or_404(DiagnosticReport, pk=report_id, patient=patient)
    record(request.user, "view", "report", report.pk, patient_id=patient.pk)
    return render(
        request,
        "patients/report.html",
        {
            "patient": patient,
            "report": report,
            "observations": report.observations.order_by("id"),
        },
    )

"""/api/v1/patients: enrol, read, change, search; consent; reveal."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Paginator
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from careloop.accounts.models import Organisation
from careloop.api import ERROR_RESPONSES, DuplicateOut, ErrorOut
from careloop.audit.services import record
from careloop.patients import services
from careloop.patients.access import get_patient_for, patients_for
from careloop.patients.identity import mask_phone
from careloop.patients.schemas import (
    ConsentIn,
    ConsentOut,
    PatientIn,
    PatientOut,
    PatientPage,
    PatientPatch,
    RevealIn,
    RevealOut,
    ShareIn,
    ShareOut,
    patient_out,
)
from careloop.patients.validation import PatientDataError, clean_consent

router = Router()
MAX_PAGE_SIZE = 200


class ListParams(Schema):
    search: str = ""
    page: int = Field(1, ge=1, le=2**31 - 1, description="from 1")
    page_size: int = Field(25, ge=1, description="at most 200")


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(permission)


@router.get("", response={200: PatientPage, **ERROR_RESPONSES}, summary="List or search patients")
def list_patients(request: HttpRequest, params: Query[ListParams]) -> PatientPage:
    """Patients you can see, newest first. ``search`` matches the name, or exactly a card
    number, ID number, phone, passport, MRN or exam number."""
    _require(request, "patients.view_patient")
    size = max(1, min(params.page_size, MAX_PAGE_SIZE))
    queryset = services.search_patients(patients_for(request.user), params.search)
    queryset = queryset.select_related(
        "organisation", "care_team", "responsible_doctor", "health_manager"
    ).prefetch_related("contacts")
    paginator = Paginator(queryset, size)
    try:
        page = paginator.page(max(params.page, 1))
        items = list(page.object_list)
    except EmptyPage:
        page, items = None, []
    record(
        request.user,
        "search" if params.search else "list",
        "patient",
        summary=services.describe_search(params.search) + f" ({len(items)} shown)",
        changes={"shown": [p.pk for p in items]},
    )

    def link(number: int) -> str:
        query: dict[str, Any] = {"page": number, "page_size": size}
        if params.search:
            query["search"] = params.search
        return f"/api/v1/patients?{urlencode(query)}"

    return PatientPage(
        count=paginator.count,
        page=params.page,
        page_size=size,
        next=link(params.page + 1) if page and page.has_next() else None,
        previous=link(params.page - 1) if page and page.has_previous() else None,
        results=[patient_out(p) for p in items],
    )


@router.post(
    "",
    response={201: PatientOut, 409: DuplicateOut, **ERROR_RESPONSES},
    summary="Enrol a patient (开卡)",
)
def create_patient(request: HttpRequest, payload: PatientIn) -> Status[PatientOut]:
    """Validates the ID number (check digit, derived sex and birth date) and mobile number,
    refuses duplicates (409) and issues a member card number."""
    patient = services.do_enrol_patient(request.user, payload.model_dump(exclude_unset=True))
    return Status(201, patient_out(patient))


@router.get(
    "/{patient_id}", response={200: PatientOut, **ERROR_RESPONSES}, summary="Read a patient"
)
def get_patient(request: HttpRequest, patient_id: int) -> PatientOut:
    patient = get_patient_for(request.user, patient_id)
    record(request.user, "view", "patient", patient.pk, patient_id=patient.pk)
    return patient_out(patient)


@router.patch(
    "/{patient_id}",
    response={200: PatientOut, 409: DuplicateOut, **ERROR_RESPONSES},
    summary="Change a patient (only the fields sent)",
)
def update_patient(request: HttpRequest, patient_id: int, payload: PatientPatch) -> PatientOut:
    """An identifier sent back masked, as read (``id_number``, ``phone``, ``passport``,
    ``mrn``, ``exam_number``), is kept unchanged."""
    patient = get_patient_for(request.user, patient_id, write=True)
    data = payload.model_dump(exclude_unset=True)
    # Identifiers sent back masked, as read (a GET changed and sent back): unchanged, as FHIR.
    for field in ("id_number", "phone", "passport", "mrn", "exam_number"):
        if "*" in (data.get(field) or ""):
            del data[field]
    for index, contact in enumerate(data.get("contacts") or []):
        if "*" in (contact.get("phone") or ""):
            contact["phone"] = _stored_contact_phone(patient, index, contact)
    patient = services.do_update_patient(request.user, patient, data)
    return patient_out(patient)


def _stored_contact_phone(patient: Any, index: int, contact: dict[str, Any]) -> str:
    """The phone of the stored contact a masked one was read from (the same name and the
    same masked number): contacts are replaced whole, so one read and sent back is kept."""
    for stored in patient.contacts.all():
        if stored.name == contact.get("name") and mask_phone(stored.phone) == contact["phone"]:
            return str(stored.phone)
    raise PatientDataError(
        {
            f"contacts[{index}].phone": [
                _("A masked number is kept only as read from this contact: send the full number.")
            ]
        }
    )


@router.post(
    "/{patient_id}/reveal",
    response={200: RevealOut, **ERROR_RESPONSES},
    summary="Reveal a masked identifier (audited)",
)
def reveal(request: HttpRequest, patient_id: int, payload: RevealIn) -> RevealOut:
    patient = get_patient_for(request.user, patient_id)
    if payload.field not in services.REVEAL_PERMISSIONS:
        raise PatientDataError({"field": ["id_number | phone | passport | record_numbers"]})
    return RevealOut(
        field=payload.field, value=services.do_reveal(request.user, patient, payload.field)
    )


@router.get(
    "/{patient_id}/consents",
    response={200: list[ConsentOut], **ERROR_RESPONSES},
    summary="Consent history, newest first",
)
def list_consents(request: HttpRequest, patient_id: int) -> list[ConsentOut]:
    patient = get_patient_for(request.user, patient_id)
    _require(request, "patients.view_consentrecord")
    record(request.user, "view", "consent", patient_id=patient.pk, summary="consent history")
    items = patient.consents.select_related("recorded_by").order_by("-recorded_at", "-id")
    return [ConsentOut.from_record(item) for item in items]


@router.post(
    "/{patient_id}/consents",
    response={201: ConsentOut, **ERROR_RESPONSES},
    summary="Record consent given or withdrawn",
)
def add_consent(request: HttpRequest, patient_id: int, payload: ConsentIn) -> Status[ConsentOut]:
    patient = get_patient_for(request.user, patient_id, write=True)
    clean = clean_consent(payload.model_dump())
    item = services.do_record_consent(request.user, patient, note=payload.note or "", **clean)
    return Status(201, ConsentOut.from_record(item))


@router.get(
    "/{patient_id}/shares",
    response={200: list[ShareOut], **ERROR_RESPONSES},
    summary="Organisations the patient is shared with",
)
def list_shares(request: HttpRequest, patient_id: int) -> list[ShareOut]:
    patient = get_patient_for(request.user, patient_id)
    shares = patient.shares.select_related("organisation", "shared_by")
    return [ShareOut.from_share(share) for share in shares]


@router.post(
    "/{patient_id}/shares",
    response={201: ShareOut, **ERROR_RESPONSES},
    summary="Share the patient with another organisation (e.g. a referral)",
)
def add_share(request: HttpRequest, patient_id: int, payload: ShareIn) -> Status[ShareOut]:
    patient = get_patient_for(request.user, patient_id, write=True)
    organisation = Organisation.objects.filter(pk=payload.organisation).first()
    if organisation is None:
        raise PatientDataError({"organisation": [_("Unknown organisation.")]})
    share = services.do_share_patient(
        request.user, patient, organisation, can_edit=payload.can_edit, reason=payload.reason
    )
    return Status(201, ShareOut.from_share(share))


@router.delete(
    "/{patient_id}/shares/{share_id}",
    response={204: None, **ERROR_RESPONSES},
    summary="Stop sharing",
)
def remove_share(request: HttpRequest, patient_id: int, share_id: int) -> Status[None]:
    patient = get_patient_for(request.user, patient_id, write=True)
    share = patient.shares.filter(pk=share_id).first()
    if share is None:
        raise Http404("no such share")
    services.do_unshare_patient(request.user, patient, share)
    return Status(204, None)


__all__ = ["ErrorOut", "router"]

"""The one way to reach patients: scoped to the user's organisation subtree and shares.

Views, API endpoints, commands and tasks all go through ``patients_for`` and
``get_patient_for``; nothing else queries Patient on a user's behalf.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from careloop.accounts.models import Organisation
from careloop.patients.models import Patient, PatientShare


def scope_organisation_ids(user: Any) -> list[int] | None:
    """Organisations whose patients ``user`` sees: None means all (superuser)."""
    if user.is_superuser:
        return None
    organisation = getattr(user, "organisation", None)
    if organisation is None:
        return []
    cached = getattr(user, "_scope_organisation_ids", None)
    if cached is None:
        cached = list(
            Organisation.objects.filter(path__startswith=organisation.path).values_list(
                "pk", flat=True
            )
        )
        user._scope_organisation_ids = cached
    return cached


def _scope_filter(user: Any, *, write: bool) -> Q | None:
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return None
    shares = PatientShare.objects.filter(patient=OuterRef("pk"), organisation_id__in=org_ids)
    if write:
        shares = shares.filter(can_edit=True)
    return Q(organisation_id__in=org_ids) | Q(Exists(shares))


def patients_for(user: Any, *, write: bool = False) -> QuerySet[Patient]:
    """Patients ``user`` may see (or, with write=True, change)."""
    if not (user.is_authenticated and user.is_active):
        return Patient.objects.none()
    if not user.has_perm("patients.change_patient" if write else "patients.view_patient"):
        return Patient.objects.none()
    condition = _scope_filter(user, write=write)
    queryset = Patient.objects.select_related("organisation")
    return queryset if condition is None else queryset.filter(condition)


def get_patient_for(user: Any, pk: Any, *, write: bool = False) -> Patient:
    """The patient ``pk`` if ``user`` may see it (404 otherwise, so existence does not leak);
    with write=True, PermissionDenied when they may see but not change it.
    """
    try:
        pk = int(pk)
    except (TypeError, ValueError) as exc:
        raise Http404("no such patient") from exc
    patient = patients_for(user).filter(pk=pk).first()
    if patient is None:
        raise Http404("no such patient")
    if write and not patients_for(user, write=True).filter(pk=pk).exists():
        raise PermissionDenied("no permission to change this patient")
    return patient


def can_change(user: Any, patient: Patient) -> bool:
    return patients_for(user, write=True).filter(pk=patient.pk).exists()


def is_owner(user: Any, patient: Patient) -> bool:
    """The patient belongs to the user's organisation subtree (not merely shared with it).
    Only owners move a patient, set its care team and staff, and manage its shares."""
    org_ids = scope_organisation_ids(user)
    return org_ids is None or patient.organisation_id in org_ids


def organisations_for(user: Any) -> QuerySet[Organisation]:
    """Organisations ``user`` may enrol patients into."""
    org_ids = scope_organisation_ids(user)
    queryset = Organisation.objects.filter(is_active=True)
    return queryset if org_ids is None else queryset.filter(pk__in=org_ids)


def staff_sees(user_id: int | None, patient: Any, memo: dict[Any, Any] | None = None) -> bool:
    """Whether staff member ``user_id`` can open ``patient`` (anything with ``pk`` and
    ``organisation_id``): active, allowed to view patients, and the patient in their
    organisation subtree or shared with it. Whoever owns a patient's alerts or is told of
    them must: an owner who cannot open the patient cannot act on them. One query; with a
    ``memo`` (a dict kept for one batch of alerts, never longer: a user changed later must
    be asked again), what it knows of each user and organisation is asked once per batch —
    a sweep raising thousands of alerts for a few doctors asked thousands of times."""
    if user_id is None:
        return False
    if memo is not None:
        return _staff_sees_remembered(user_id, patient, memo)
    below = OuterRef("organisation__path")
    in_scope = Organisation.objects.filter(pk=patient.organisation_id, path__startswith=below)
    shared = PatientShare.objects.filter(
        patient_id=patient.pk, organisation__path__startswith=below
    )
    may_view = _may_view(user_id)
    return may_view.filter(Q(is_superuser=True) | Q(Exists(in_scope)) | Q(Exists(shared))).exists()


def _may_view(user_id: int) -> QuerySet[Any]:
    """The user, when active and allowed to view patients."""
    from django.contrib.auth.models import Permission

    from careloop.accounts.models import User

    view = Permission.objects.filter(codename="view_patient", content_type__app_label="patients")
    return User.objects.filter(pk=user_id, is_active=True).filter(
        Q(is_superuser=True)
        | Q(Exists(view.filter(group__user=OuterRef("pk"))))
        | Q(Exists(view.filter(user=OuterRef("pk"))))
    )


def _staff_sees_remembered(user_id: int, patient: Any, memo: dict[Any, Any]) -> bool:
    if ("staff", user_id) not in memo:  # (superuser, organisation path) or None
        found = _may_view(user_id).values_list("is_superuser", "organisation__path")
        memo["staff", user_id] = found.first()
    staff = memo["staff", user_id]
    if staff is None:
        return False
    superuser, path = staff
    if superuser:
        return True
    if path is None:
        return False
    if ("organisation", patient.organisation_id) not in memo:
        found = Organisation.objects.filter(pk=patient.organisation_id).values_list("path")
        memo["organisation", patient.organisation_id] = (found.first() or ("",))[0]
    if memo["organisation", patient.organisation_id].startswith(path):
        return True
    return PatientShare.objects.filter(
        patient_id=patient.pk, organisation__path__startswith=path
    ).exists()

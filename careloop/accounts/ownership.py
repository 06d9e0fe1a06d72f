"""Who changes what belongs to an organisation (a rule, a questionnaire, a pathway): a row
with an organisation is for it and those below it, and changed by staff whose organisations
hold it; a row without one is for every organisation, and changed only by staff whose
organisations are all of them (a superuser, the top of the one tree)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from careloop.accounts.models import Organisation
from careloop.patients.access import scope_organisation_ids


def covers_every_organisation(user: Any) -> bool:
    scope = scope_organisation_ids(user)
    return scope is None or (
        bool(scope) and not Organisation.objects.exclude(pk__in=scope).exists()
    )


def may_change_owned(user: Any, organisation_id: int | None) -> bool:
    """Whether ``user`` (None: the command line) may change a row of ``organisation_id``."""
    if user is None:
        return True
    if organisation_id is None:
        return covers_every_organisation(user)
    scope = scope_organisation_ids(user)
    return scope is None or organisation_id in scope


def owner_of_new(user: Any) -> Organisation | None:
    """What a new row made by ``user`` belongs to: their organisation, or every one when
    they are every organisation's staff (and from the command line)."""
    if user is None or covers_every_organisation(user):
        return None
    organisation: Organisation | None = getattr(user, "organisation", None)
    return organisation


def organisations_to_choose(user: Any) -> QuerySet[Organisation]:
    """The organisations ``user`` may give a row to."""
    scope = scope_organisation_ids(user)
    rows = Organisation.objects.filter(is_active=True).order_by("path")
    return rows if scope is None else rows.filter(pk__in=scope)


def seen_by(user: Any) -> Q:
    """The rows ``user`` sees: everyone's, those of their organisation and the ones above it
    (which apply to them), and those of the organisations below it."""
    scope = scope_organisation_ids(user)
    if scope is None:
        return Q()
    return applying_to(getattr(user, "organisation", None)) | Q(organisation_id__in=scope)


def applying_to(organisation: Organisation | None) -> Q:
    """The rows for ``organisation``: everyone's, its own and those of the ones above it."""
    if organisation is None:
        return Q(organisation__isnull=True)
    return Q(organisation__isnull=True) | Q(organisation_id__in=organisation.lineage)

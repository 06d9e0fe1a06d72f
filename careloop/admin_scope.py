"""The administration's other pages for an administrator bound to an organisation (not a
superuser; accounts.admin.WithinOrganisations does users, teams, organisations and tokens).

``ScopedToOrganisations``: the rows of their organisation and those below it only (a
message, a reply, a plan, an audit record of another organisation's patient is not theirs to
read), and rows for every organisation (organisation empty: the platform's SMS provider, a
shipped pathway, the default critical values) shown but changed only by a superuser.
``PlatformWide``: the catalogues every organisation shares (ICD-10, LOINC items, reference
ranges) are read, not changed, by them."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from careloop.accounts.models import Organisation
from careloop.patients.access import scope_organisation_ids


def _organisation_of(obj: Any, path: str) -> int | None:
    """The organisation id a row belongs to, by the lookup ``path`` (``source__organisation``)."""
    *through, last = path.split("__")
    for name in through:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    value = getattr(obj, f"{last}_id", None) if not last.endswith("_id") else None
    return value if value is not None else getattr(obj, last, None)


class ScopedToOrganisations:
    scope_path = "organisation"  # the lookup from a row to its organisation
    shared_when_empty = False  # a row without one is every organisation's (shown, read only)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        scope = scope_organisation_ids(request.user)
        if scope is None:
            return rows
        mine = Q(**{f"{self.scope_path}__in": scope})
        if self.shared_when_empty:
            mine |= Q(**{f"{self.scope_path}__isnull": True})
        return rows.filter(mine)

    def _theirs(self, request: HttpRequest, obj: Any) -> bool:
        scope = scope_organisation_ids(request.user)
        return scope is None or obj is None or _organisation_of(obj, self.scope_path) in scope

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        return bool(allowed) and self._theirs(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return bool(allowed) and self._theirs(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope = scope_organisation_ids(request.user)
        if scope is not None and db_field.name == "organisation":
            kwargs["queryset"] = Organisation.objects.filter(pk__in=scope)
            kwargs["required"] = True  # not for every organisation: that is a superuser's
        if scope is not None and db_field.name == "source":
            kwargs["queryset"] = db_field.related_model.objects.filter(organisation_id__in=scope)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class PlatformWide:
    def _bound(self, request: HttpRequest) -> bool:
        return scope_organisation_ids(request.user) is not None

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        allowed = super().has_add_permission(request, *args)  # type: ignore[misc]
        return bool(allowed) and not self._bound(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        return bool(allowed) and not self._bound(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return bool(allowed) and not self._bound(request)

"""Whom work can go to: active staff in the organisations a user oversees."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from careloop.accounts.models import User
from careloop.patients.access import scope_organisation_ids


def staff_who_can(user: Any, codename: str) -> QuerySet[User]:
    """Active staff whose roles grant ``followup.<codename>`` (``change_task``: they do
    follow-ups; ``change_alert``: they handle alerts), in ``user``'s organisations."""
    staff = User.objects.filter(is_active=True, groups__permissions__codename=codename)
    org_ids = scope_organisation_ids(user)
    if org_ids is not None:
        staff = staff.filter(organisation_id__in=org_ids)
    return staff.distinct().select_related("organisation").order_by("display_name", "username")

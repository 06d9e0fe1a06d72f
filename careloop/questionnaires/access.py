"""Whose questionnaires are whose (as pathways are): one without an organisation is for
every organisation; one of an organisation is for it and those below it, seen by their staff
and by the staff above it, and changed only by staff whose organisations hold it. One for
every organisation is changed only by staff whose organisations are all of them (a
superuser, the top of the one tree)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from careloop.accounts.models import Organisation
from careloop.accounts.ownership import applying_to as usable_for
from careloop.accounts.ownership import may_change_owned, seen_by
from careloop.questionnaires.models import Questionnaire


def visible_to(user: Any) -> QuerySet[Questionnaire]:
    """Those usable in the user's organisation and those of the organisations below it."""
    return Questionnaire.objects.filter(seen_by(user))


def may_change(user: Any, row: Questionnaire) -> bool:
    """A new version or status of ``row`` by ``user`` (None: the command line, may)."""
    if user is not None and not user.has_perm("questionnaires.change_questionnaire"):
        return False
    return may_change_owned(user, row.organisation_id)


def in_use_for(code: str, organisation: Organisation | None) -> Any:
    """The version in use of questionnaire ``code``, if its patients of ``organisation``
    may be asked it; else None."""
    from careloop.questionnaires.services import current

    version = current(code)
    usable = Questionnaire.objects.filter(usable_for(organisation))
    if version is None or not usable.filter(pk=version.questionnaire_id).exists():
        return None
    return version

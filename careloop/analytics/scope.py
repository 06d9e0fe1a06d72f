"""What a dashboard figure counts over: a period (whole local days, ``from`` to ``to``
inclusive) and an organisation with everything below it, optionally one team or one person.
``ScopeError`` names the parameter that is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import Organisation, Team, User
from careloop.ids import row_id

MAX_DAYS = 731
DEFAULT_DAYS = 30


class ScopeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Scope:
    first: date
    last: date
    organisation: Organisation | None  # None: every organisation (superusers only)
    team: Team | None = None
    person: User | None = None

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    def in_period(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})

    def by_organisation(self, field: str = "organisation") -> Q:
        if self.organisation is None:
            return Q()
        return Q(**{f"{field}__path__startswith": self.organisation.path})

    def params(self) -> dict[str, str]:
        """The query string that gives this scope back."""
        out = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.organisation is not None:
            out["org"] = str(self.organisation.pk)
        if self.team is not None:
            out["team"] = str(self.team.pk)
        if self.person is not None:
            out["person"] = str(self.person.pk)
        return out


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ScopeError(field, _("must be a date written YYYY-MM-DD")) from None


def visible_organisations(user: Any) -> QuerySet[Organisation]:
    if user.is_superuser:
        return Organisation.objects.all()
    if user.organisation is None:
        return Organisation.objects.none()
    return user.organisation.subtree()


def _organisation(user: Any, value: str) -> Organisation | None:
    allowed = visible_organisations(user)
    if not value:
        if user.organisation is None and not user.is_superuser:
            raise ScopeError("org", _("your account belongs to no organisation"))
        return user.organisation
    pk = row_id(value)
    found = allowed.filter(Q(code=value) | Q(pk=pk) if pk is not None else Q(code=value))
    row = found.first()
    if row is None:
        raise ScopeError("org", _("no organisation %(value)s that you may see") % {"value": value})
    return row


def parse_scope(user: Any, params: Any, today: date | None = None) -> Scope:
    """The scope from query parameters ``from``, ``to`` (YYYY-MM-DD), ``org`` (id or
    code), ``team`` (id) and ``person`` (id or username), checked against what ``user``
    may see."""
    today = today or timezone.localdate()
    last = _day(params.get("to") or today.isoformat(), "to")
    first = _day(
        params.get("from") or (last - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "from"
    )
    if first > last:
        raise ScopeError("from", _("the start cannot be after the end"))
    if (last - first).days + 1 > MAX_DAYS:
        raise ScopeError("from", _("a period is at most %(days)d days") % {"days": MAX_DAYS})
    organisation = _organisation(user, (params.get("org") or "").strip())
    within = Q(organisation__path__startswith=organisation.path) if organisation else Q()
    team = None
    if value := (params.get("team") or "").strip():
        team_id = row_id(value)
        team = Team.objects.filter(within, pk=team_id).first() if team_id is not None else None
        if team is None:
            raise ScopeError("team", _("no team %(value)s in this organisation") % {"value": value})
    person = None
    if value := (params.get("person") or "").strip():
        who = Q(pk=row_id(value)) if row_id(value) is not None else Q(username=value)
        person = User.objects.filter(within, who).first()
        if person is None:
            raise ScopeError(
                "person", _("no staff member %(value)s in this organisation") % {"value": value}
            )
    return Scope(first, last, organisation, team, person)

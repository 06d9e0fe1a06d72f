"""Template context shared by every staff page."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: Any
    icon: str
    url: str = ""  # empty: an area not built yet, shown disabled
    active: bool = False


@dataclass(frozen=True)
class Entry:
    """A place in the sidebar: shown to users with ``perm`` (everyone signed in when None,
    staff when "staff"), active on its URL and below it (``exact``: on it only), also below
    ``also`` and never below ``unless`` (URL names, or paths when they start with "/")."""

    label: Any
    icon: str
    url_name: str
    perm: str | None
    exact: bool = False
    also: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


_FOLLOWUP_PAGES = tuple(
    f"followup:{n}" for n in ("pathways", "referrals", "revisits", "team", "quality")
)
ENTRIES = (
    Entry(_("Home"), "house", "home", None, exact=True),
    Entry(_("Patients"), "people", "patients:list", "patients.view_patient"),
    Entry(_("Enrol a patient"), "person-plus", "patients:create", "patients.add_patient", True),
    Entry(
        _("Worklist"),
        "list-check",
        "followup:worklist",
        "followup.view_task",
        unless=_FOLLOWUP_PAGES,
    ),
    Entry(
        _("Team workload"),
        "person-workspace",
        "followup:team",
        "followup.assign_task",
        also=("followup:quality",),
    ),
    Entry(_("Referrals"), "arrow-left-right", "followup:referrals", "followup.view_referral"),
    Entry(_("Revisits"), "calendar-check", "followup:revisits", "followup.view_revisitrequest"),
    Entry(_("Alerts"), "exclamation-triangle", "alerts:list", "followup.view_alert"),
    Entry(_("Outbox"), "send", "outreach:outbox", "outreach.view_message"),
    Entry(_("Replies"), "chat-left-text", "outreach:inbox", "outreach.view_reply"),
    Entry(
        _("Questionnaires"), "ui-checks", "questionnaires:list", "questionnaires.view_questionnaire"
    ),
    Entry(_("Health lectures"), "easel", "care:lectures", "care.view_lecture"),
    Entry(_("Points redemptions"), "gift", "portal:redemptions", "portal.change_redemption"),
    Entry(_("Pathways"), "signpost-split", "followup:pathways", "followup.view_pathway"),
    Entry(_("Dashboard"), "bar-chart-line", "analytics:dashboard", "analytics.view_dashboard"),
    Entry(_("Rules"), "sliders", "rules:list", "rules.view_rule"),
    Entry(_("Audit log"), "journal-text", "audit:list", "audit.view_auditevent"),
    Entry(
        _("Import results"), "file-earmark-spreadsheet", "interop:imports", "interop.add_importjob"
    ),
    Entry(
        _("Inbound messages"),
        "inbox",
        "interop:messages",
        "interop.view_inboundmessage",
        also=("/interop/",),
    ),
    Entry(_("Administration"), "gear", "admin:index", "staff"),
)


@lru_cache(maxsize=8)
def _paths(script_prefix: str) -> dict[str, str]:
    """Every URL the sidebar names, reversed once per script prefix (~20 ``reverse`` calls a
    page before)."""
    names = {e.url_name for e in ENTRIES}
    for entry in ENTRIES:
        names.update(n for n in (*entry.also, *entry.unless) if not n.startswith("/"))
    return {name: reverse(name) for name in names}


def _active(entry: Entry, path: str, urls: dict[str, str]) -> bool:
    def below(names: tuple[str, ...]) -> bool:
        return any(path.startswith(n if n.startswith("/") else urls[n]) for n in names)

    url = urls[entry.url_name]
    if entry.exact:
        return path == url
    return (path.startswith(url) or below(entry.also)) and not below(entry.unless)


def navigation(request: HttpRequest) -> dict[str, Any]:
    # An error page for a request refused before the user was read (by a middleware ahead
    # of authentication) has none: without this it failed to render, a 500.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    urls = _paths(get_script_prefix())
    items = [
        NavItem(e.label, e.icon, urls[e.url_name], _active(e, request.path, urls))
        for e in ENTRIES
        if e.perm is None or (user.is_staff if e.perm == "staff" else user.has_perm(e.perm))
    ]
    from careloop.outreach.models import StaffNotification

    unread = StaffNotification.objects.filter(user=user, read_at__isnull=True).count()
    return {"nav_items": items, "unread_notifications": unread}

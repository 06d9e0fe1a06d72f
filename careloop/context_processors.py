"""Template context shared by every staff page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: Any
    icon: str
    url: str = ""  # empty: an area not built yet, shown disabled
    active: bool = False


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {}
    path = request.path
    items = [NavItem(_("Home"), "house", reverse("home"), path == "/")]
    if user.has_perm("patients.view_patient"):
        url = reverse("patients:list")
        items.append(NavItem(_("Patients"), "people", url, path.startswith(url)))
    if user.has_perm("patients.add_patient"):
        url = reverse("patients:create")
        items.append(NavItem(_("Enrol a patient"), "person-plus", url, path == url))
    if user.has_perm("followup.view_task"):
        url = reverse("followup:worklist")
        others = [
            reverse(f"followup:{n}")
            for n in ("pathways", "referrals", "revisits", "team", "quality")
        ]
        active = path.startswith(url) and not any(path.startswith(o) for o in others)
        items.append(NavItem(_("Worklist"), "list-check", url, active))
    if user.has_perm("followup.assign_task"):
        url = reverse("followup:team")
        active = path.startswith(url) or path.startswith(reverse("followup:quality"))
        items.append(NavItem(_("Team workload"), "person-workspace", url, active))
    if user.has_perm("followup.view_referral"):
        url = reverse("followup:referrals")
        items.append(NavItem(_("Referrals"), "arrow-left-right", url, path.startswith(url)))
    if user.has_perm("followup.view_revisitrequest"):
        url = reverse("followup:revisits")
        items.append(NavItem(_("Revisits"), "calendar-check", url, path.startswith(url)))
    if user.has_perm("followup.view_alert"):
        url = reverse("alerts:list")
        items.append(NavItem(_("Alerts"), "exclamation-triangle", url, path.startswith(url)))
    if user.has_perm("outreach.view_message"):
        url = reverse("outreach:outbox")
        items.append(NavItem(_("Outbox"), "send", url, path.startswith(url)))
    if user.has_perm("outreach.view_reply"):
        url = reverse("outreach:inbox")
        items.append(NavItem(_("Replies"), "chat-left-text", url, path.startswith(url)))
    if user.has_perm("questionnaires.view_questionnaire"):
        url = reverse("questionnaires:list")
        items.append(NavItem(_("Questionnaires"), "ui-checks", url, path.startswith(url)))
    if user.has_perm("portal.change_redemption"):
        url = reverse("portal:redemptions")
        items.append(NavItem(_("Points redemptions"), "gift", url, path.startswith(url)))
    if user.has_perm("followup.view_pathway"):
        url = reverse("followup:pathways")
        items.append(NavItem(_("Pathways"), "signpost-split", url, path.startswith(url)))
    if user.has_perm("analytics.view_dashboard"):
        url = reverse("analytics:dashboard")
        items.append(NavItem(_("Dashboard"), "bar-chart-line", url, path.startswith(url)))
    if user.has_perm("rules.view_rule"):
        url = reverse("rules:list")
        items.append(NavItem(_("Rules"), "sliders", url, path.startswith(url)))
    if user.has_perm("audit.view_auditevent"):
        url = reverse("audit:list")
        items.append(NavItem(_("Audit log"), "journal-text", url, path.startswith(url)))
    if user.has_perm("interop.add_importjob"):
        url = reverse("interop:imports")
        items.append(
            NavItem(_("Import results"), "file-earmark-spreadsheet", url, path.startswith(url))
        )
    if user.has_perm("interop.view_inboundmessage"):
        url = reverse("interop:messages")
        items.append(NavItem(_("Inbound messages"), "inbox", url, path.startswith("/interop/")))
    if user.is_staff:
        items.append(NavItem(_("Administration"), "gear", reverse("admin:index")))
    from careloop.outreach.models import StaffNotification

    unread = StaffNotification.objects.filter(user=user, read_at__isnull=True).count()
    return {"nav_items": items, "unread_notifications": unread}

"""Staff roles (DOMAIN.md "Who uses it") as Django groups with permissions.

The group name is the role code; ``sync_roles`` makes the groups' permissions equal to the
table below and runs after every migrate, so the table is the single source of truth.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    NURSE = "nurse", _("follow-up nurse")  # 随访专员
    HEALTH_MANAGER = "health_manager", _("health manager")  # 健康管理师
    DOCTOR = "doctor", _("follow-up doctor")  # 随访医生
    SUPERVISOR = "supervisor", _("supervisor")  # 随访主管
    COORDINATOR = "coordinator", _("coordinator")  # 随访协调岗
    ADMIN = "admin", _("administrator")  # 管理员


_PATIENT_BASE = [
    "patients.view_patient",
    "patients.add_patient",
    "patients.change_patient",
    "patients.reveal_phone",
    "patients.view_consentrecord",
    "patients.add_consentrecord",
    "clinical.view_encounter",
    "clinical.view_condition",
    "clinical.view_procedure",
]
_CLINICAL_EDIT = [
    "clinical.add_encounter",
    "clinical.change_encounter",
    "clinical.delete_encounter",
    "clinical.add_condition",
    "clinical.change_condition",
    "clinical.delete_condition",
    "clinical.add_procedure",
    "clinical.change_procedure",
    "clinical.delete_procedure",
]

_IMPORT = ["interop.add_importjob", "interop.view_importjob"]

# Doing follow-ups: the worklist, recording attempts (with recordings), enrolling by hand.
_FOLLOWUP = [
    "followup.view_task",
    "followup.change_task",
    "followup.view_followuprecord",
    "followup.add_followuprecord",
    "followup.play_recording",
    "followup.view_plan",
    "followup.add_plan",
    "followup.view_pathway",
    "followup.view_alert",
    "followup.change_alert",
    "followup.add_alert",
    "followup.add_tasknote",
    "followup.view_referral",
    "followup.add_referral",
    "followup.view_revisitrequest",
    "followup.add_revisitrequest",
    "outreach.view_message",
    "outreach.view_reply",
    "outreach.add_reply",
    "outreach.change_reply",
    "questionnaires.view_questionnaire",
    "questionnaires.view_questionnaireresponse",
    "questionnaires.add_questionnaireresponse",
    "care.view_healthplan",
    "care.view_printedreport",
    "care.add_printedreport",
    "care.view_lecture",
    "care.add_lectureseat",
    "care.change_lectureseat",
]
# Health plans are written by health managers, doctors and leads.
_CARE = [
    "care.add_healthplan",
    "care.change_healthplan",
    "care.add_reportbatch",
    "care.add_lecture",
    "care.change_lecture",
]
# Leads assign work, answer referrals, book revisits and verify resolved alerts.
_FOLLOWUP_LEAD = [
    *_FOLLOWUP,
    "followup.assign_task",
    "followup.change_plan",
    "followup.change_referral",
    "followup.change_revisitrequest",
    "followup.verify_alert",
    "followup.view_qualityreview",
    "portal.view_redemption",
    "portal.change_redemption",
    "followup.add_qualityreview",
    "followup.change_qualityreview",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.NURSE: [*_PATIENT_BASE, "clinical.add_encounter", *_FOLLOWUP],
    Role.HEALTH_MANAGER: [
        *_PATIENT_BASE,
        "clinical.add_encounter",
        *_IMPORT,
        *_FOLLOWUP,
        *_CARE,
    ],
    Role.DOCTOR: [
        *_PATIENT_BASE,
        *_CLINICAL_EDIT,
        "patients.reveal_identifier",
        *_FOLLOWUP,
        *_CARE,
        "followup.change_plan",
        "followup.change_referral",
    ],
    Role.SUPERVISOR: [
        *_PATIENT_BASE,
        *_CLINICAL_EDIT,
        "patients.reveal_identifier",
        "patients.export_patient",
        "patients.share_patient",
        "audit.view_auditevent",
        "rules.view_rule",
        "questionnaires.add_questionnaire",
        "questionnaires.change_questionnaire",
        "analytics.view_dashboard",
        *_CARE,
        *_IMPORT,
        *_FOLLOWUP_LEAD,
    ],
    Role.COORDINATOR: [
        *_PATIENT_BASE,
        "patients.share_patient",
        *_IMPORT,
        *_FOLLOWUP_LEAD,
        "care.add_lecture",
        "care.change_lecture",
    ],
}

# Administrators configure the system: every permission of these apps.
ADMIN_APPS = [
    "accounts",
    "audit",
    "patients",
    "clinical",
    "interop",
    "followup",
    "rules",
    "outreach",
    "questionnaires",
    "portal",
    "analytics",
    "care",
    "django_tasks_db",
]


def sync_roles() -> None:
    """Create the role groups and set their permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        if role == Role.ADMIN:
            perms = list(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
        else:
            perms = []
            for dotted in ROLE_PERMISSIONS[role]:
                app_label, codename = dotted.split(".", 1)
                perms.extend(
                    Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )
        group.permissions.set(perms)


def role_label(code: str) -> str:
    try:
        return str(Role(code).label)
    except ValueError:
        return code

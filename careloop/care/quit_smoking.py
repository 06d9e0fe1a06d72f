"""After a smoking-cessation programme that ended with its smoke-free goal met: the health
record's smoking status (生活方式·吸烟状况) offered to be changed to former smoker
(已戒烟), changed only when staff confirm it."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.audit.services import changes_between, record
from careloop.care.models import ProgrammeEnrolment
from careloop.care.programmes import ProgrammeError, Progress, progress
from careloop.patients.access import can_change
from careloop.patients.models import Lifestyle


def offers_former_smoker(done: Progress, today: date | None = None) -> bool:
    """Whether to offer it: the programme's period is over (or it was completed), its
    smoke-free goal was met at the end, and the record does not say former smoker yet."""
    today = today or timezone.localdate()
    row = done.enrolment
    if done.smoking is None or not done.smoking.met:
        return False
    if row.status == ProgrammeEnrolment.Status.STOPPED:
        return False
    if row.status == ProgrammeEnrolment.Status.ACTIVE and today < row.ends_on:
        return False
    said = Lifestyle.objects.filter(patient_id=row.patient_id).first()
    return said is None or said.smoking != Lifestyle.Smoking.FORMER


def do_record_former_smoker(actor: Any, enrolment: ProgrammeEnrolment) -> Lifestyle:
    """Staff confirmed: the record says former smoker, no cigarettes a day (audited; the
    models that read smoking run again)."""
    patient = enrolment.patient
    if not can_change(actor, patient):
        raise PermissionDenied("no permission to change this patient")
    if not offers_former_smoker(progress(enrolment)):
        raise ProgrammeError(
            _("Only a finished programme with its smoke-free goal met records a former smoker.")
        )
    fields = ["smoking", "cigarettes_per_day"]
    with transaction.atomic():
        item = Lifestyle.objects.select_for_update().filter(patient=patient).first()
        item = item or Lifestyle(patient=patient)
        before = {f: str(getattr(item, f)) for f in fields} if item.pk else {}
        item.smoking = Lifestyle.Smoking.FORMER
        item.cigarettes_per_day = None
        item.updated_by = actor
        item.save()
        record(
            actor,
            "update",
            "lifestyle",
            item.pk,
            patient_id=patient.pk,
            summary=f"former smoker after programme {enrolment.programme.code}",
            changes=changes_between(before, {f: str(getattr(item, f)) for f in fields}),
        )
        from careloop.rules.assessments import reassess_records  # as the lifestyle form does

        reassess_records([patient.pk])
    return item

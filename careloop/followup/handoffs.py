"""Hand-offs between tiers (seed 002): the hospital refers a patient to a community centre or
a family-doctor team (or back up), with a reason; the receiving side accepts or declines; both
sides see the history. Also revisit requests booked from a follow-up."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import Organisation, User
from careloop.audit.services import record
from careloop.followup.models import OPEN_STATUSES, Alert, Plan, Referral, RevisitRequest, Task
from careloop.followup.planning import follow_the_move, stop_plan
from careloop.patients.access import is_owner, scope_organisation_ids
from careloop.patients.models import Patient, PatientShare
from careloop.system_texts import REFERRAL_WAITING, TRANSFERRED_TO, stored

R = Referral.Status


def referral_targets(patient: Patient) -> QuerySet[Organisation]:
    """Where a patient can be referred: any active organisation outside its own subtree
    and not above it (the staff of an organisation above see the sender's patients too, so
    no one would answer for the receiving side alone)."""
    above = [int(pk) for pk in patient.organisation.path.strip("/").split("/") if pk.isdigit()]
    return (
        Organisation.objects.filter(is_active=True)
        .exclude(path__startswith=patient.organisation.path)
        .exclude(pk__in=above)
    )


def referrals_for(user: Any) -> QuerySet[Referral]:
    """Referrals sent from or to the user's organisations (all for a superuser)."""
    referrals = Referral.objects.select_related(
        "patient", "from_organisation", "to_organisation", "requested_by", "decided_by"
    )
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return referrals
    return referrals.filter(Q(from_organisation_id__in=org_ids) | Q(to_organisation_id__in=org_ids))


def do_refer(
    actor: Any,
    patient: Patient,
    to: Organisation,
    *,
    reason: str,
    urgency: str = Referral.Urgency.ROUTINE,
    transfer: bool = False,
    task: Task | None = None,
) -> Referral:
    """Ask ``to`` to take ``patient`` on. The record is shared read-only with them so they
    can decide. ``ValidationError`` names what is wrong."""
    if not actor.has_perm("followup.add_referral"):
        raise PermissionDenied("no permission to refer patients")
    if not is_owner(actor, patient):  # a share does not let another organisation hand it on
        raise PermissionDenied("only the patient's own organisation refers them")
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = [_("Say why the patient is referred.")]
    if urgency not in Referral.Urgency.values:
        errors["urgency"] = [_("Choose routine or urgent.")]
    if not referral_targets(patient).filter(pk=to.pk).exists():
        errors["to_organisation"] = [_("Choose an active organisation outside the patient's own.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # One referral at a time per patient: the form sent twice, or two colleagues at
        # once, make one waiting referral; the second is told who sent it.
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        waiting = (
            Referral.objects.filter(patient=patient, to_organisation=to, status=R.PENDING)
            .select_related("requested_by")
            .first()
        )
        if waiting is not None:
            raise ValidationError(
                {
                    "to_organisation": [
                        _(
                            "A referral to this organisation is already waiting (sent by "
                            "%(who)s at %(when)s)."
                        )
                        % {
                            "who": waiting.requested_by or "—",
                            "when": timezone.localtime(waiting.requested_at).strftime(
                                "%m-%d %H:%M"
                            ),
                        }
                    ]
                },
                code="conflict",
            )
        _share, created = PatientShare.objects.get_or_create(
            patient=patient,
            organisation=to,
            defaults={"can_edit": False, "reason": stored(REFERRAL_WAITING), "shared_by": actor},
        )
        referral = Referral.objects.create(
            patient=patient,
            from_organisation=patient.organisation,
            to_organisation=to,
            reason=reason.strip(),
            urgency=urgency,
            transfer=transfer,
            task=task,
            shared=created,
            requested_by=actor,
        )
        record(
            actor,
            "create",
            "referral",
            referral.pk,
            patient_id=patient.pk,
            summary=f"referred to {to.code}" + (" (hand over)" if transfer else ""),
        )
    return referral


def can_decide(user: Any, referral: Referral) -> bool:
    """Whether ``user`` answers for the receiving side (and not also for the sender)."""
    if not user.has_perm("followup.change_referral"):
        return False
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return True
    return referral.to_organisation_id in org_ids and referral.from_organisation_id not in org_ids


def can_withdraw(user: Any, referral: Referral) -> bool:
    org_ids = scope_organisation_ids(user)
    return user.has_perm("followup.add_referral") and (
        org_ids is None or referral.from_organisation_id in org_ids
    )


def _locked_pending(referral: Referral) -> Referral:
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("patient__organisation", "to_organisation", "from_organisation")
        .get(pk=referral.pk)
    )
    if referral.status != R.PENDING:
        if referral.decided_by_id is None or referral.decided_at is None:
            raise ValidationError(
                _("This referral is already %(status)s.")
                % {"status": referral.get_status_display()},
                code="conflict",
            )
        # Answered by someone at the same moment, or this answer sent twice: say who.
        raise ValidationError(
            _("This referral is already %(status)s (by %(who)s at %(when)s).")
            % {
                "status": referral.get_status_display(),
                "who": User.objects.get(pk=referral.decided_by_id),
                "when": timezone.localtime(referral.decided_at).strftime("%m-%d %H:%M"),
            },
            code="conflict",
        )
    return referral


def do_decide(actor: Any, referral: Referral, *, accept: bool, note: str = "") -> Referral:
    """The receiving side answers. Accepting a hand-over moves the patient to the receiving
    organisation (the sender keeps read access to the history) and stops the sender's
    plans as transferred; accepting a shared-care referral lets the receiver edit the
    record. Declining needs a reason and withdraws the share made for the referral."""
    if not can_decide(actor, referral):
        raise PermissionDenied("only the receiving organisation answers a referral")
    if not accept and not note.strip():
        raise ValidationError({"decision_note": [_("Say why the referral is declined.")]})
    now = timezone.now()
    with transaction.atomic():
        referral = _locked_pending(referral)
        patient = referral.patient
        referral.status = R.ACCEPTED if accept else R.DECLINED
        referral.decided_by, referral.decided_at = actor, now
        referral.decision_note = note.strip()
        referral.save()
        to = referral.to_organisation
        if not accept:
            if referral.shared:
                PatientShare.objects.filter(patient=patient, organisation=to).delete()
        elif referral.transfer:
            old = patient.organisation
            for plan in Plan.objects.filter(patient=patient, status=Plan.Status.ACTIVE):
                if not plan.organisation.path.startswith(to.path):
                    stop_plan(plan, Plan.StopReason.TRANSFERRED, actor, note=f"转至{to.name}")
            patient.organisation = to
            # The old organisation's care team no longer looks after them.
            patient.care_team, patient.responsible_doctor, patient.health_manager = None, None, None
            patient.save(
                update_fields=[
                    "organisation",
                    "care_team",
                    "responsible_doctor",
                    "health_manager",
                    "updated_at",
                ]
            )
            Alert.objects.filter(patient=patient, status__in=OPEN_STATUSES).update(
                organisation=to, assignee=None
            )
            # Their other open work too (a rule's follow-up has no plan to stop): the
            # sender, about to only read the record, could no longer record it.
            follow_the_move(patient, actor)
            PatientShare.objects.filter(patient=patient, organisation=to).delete()
            if not to.path.startswith(old.path):
                PatientShare.objects.update_or_create(
                    patient=patient,
                    organisation=old,
                    defaults={
                        "can_edit": False,
                        "reason": stored(TRANSFERRED_TO, organisation=to.name),
                        "shared_by": actor,
                    },
                )
        else:
            PatientShare.objects.filter(patient=patient, organisation=to).update(can_edit=True)
        record(
            actor,
            "update",
            "referral",
            referral.pk,
            patient_id=patient.pk,
            summary=f"referral {referral.status}",
        )
    return referral


def do_withdraw(actor: Any, referral: Referral) -> Referral:
    """The sender withdraws a referral still waiting for an answer."""
    if not can_withdraw(actor, referral):
        raise PermissionDenied("only the referring organisation withdraws a referral")
    with transaction.atomic():
        referral = _locked_pending(referral)
        referral.status, referral.decided_by = R.CANCELLED, actor
        referral.decided_at = timezone.now()
        referral.save()
        if referral.shared:
            PatientShare.objects.filter(
                patient=referral.patient, organisation=referral.to_organisation
            ).delete()
        record(
            actor,
            "update",
            "referral",
            referral.pk,
            patient_id=referral.patient_id,
            summary="referral withdrawn",
        )
    return referral


# ---------------------------------------------------------------- revisit requests


def do_request_revisit(
    actor: Any,
    patient: Patient,
    *,
    wanted_on: date,
    department: str = "",
    reason: str = "",
    task: Task | None = None,
) -> RevisitRequest:
    """Ask for a revisit booking (a coordinator books it). One already waiting for the same
    day and department (the form sent twice, or a colleague's) is returned instead of a
    second: it was requested before this call began."""
    if not actor.has_perm("followup.add_revisitrequest"):
        raise PermissionDenied("no permission to request revisits")
    if wanted_on < timezone.localdate():
        raise ValidationError({"wanted_on": [_("The date is in the past.")]})
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        waiting = RevisitRequest.objects.filter(
            patient=patient,
            kind=RevisitRequest.Kind.REVISIT,
            wanted_on=wanted_on,
            department=department.strip()[:100],
            status=RevisitRequest.Status.REQUESTED,
        ).first()
        if waiting is not None:
            return waiting
        revisit = RevisitRequest.objects.create(
            patient=patient,
            organisation=patient.organisation,
            task=task,
            department=department.strip()[:100],
            wanted_on=wanted_on,
            reason=reason.strip()[:300],
            requested_by=actor,
        )
        record(
            actor,
            "create",
            "revisit",
            revisit.pk,
            patient_id=patient.pk,
            summary=f"revisit requested for {wanted_on}",
        )
    return revisit


def _minute(at: datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M") if at is not None else ""


def do_book_revisit(
    actor: Any, revisit: RevisitRequest, at: datetime, *, shown: str | None = None
) -> RevisitRequest:
    """Book (or move) the appointment of a requested revisit. ``shown``: the appointment the
    page showed (``%Y-%m-%dT%H:%M`` local, "" for none); when someone has booked or moved it
    since, to another time, the booking is refused naming them (the same time again is
    the same booking: a double click)."""
    if not actor.has_perm("followup.change_revisitrequest"):
        raise PermissionDenied("no permission to book revisits")
    with transaction.atomic():
        revisit = (
            RevisitRequest.objects.select_for_update(of=("self",))
            .select_related("booked_by")
            .get(pk=revisit.pk)
        )
        if revisit.status not in (RevisitRequest.Status.REQUESTED, RevisitRequest.Status.BOOKED):
            raise ValidationError(_("This revisit is already closed."), code="conflict")
        current = _minute(revisit.appointment_at)
        if shown is not None and shown != current:
            if current == _minute(at):
                return revisit  # booked so a moment ago: this is the same booking
            raise ValidationError(
                _(
                    "%(who)s booked this revisit for %(when)s after the page was shown: "
                    "look at it again before moving it."
                )
                % {"who": revisit.booked_by or "—", "when": current.replace("T", " ")},
                code="conflict",
            )
        if at <= timezone.now():  # it would be "missed" at once, and raise its alert
            raise ValidationError(_("Book the appointment for a time still to come."))
        revisit.status, revisit.appointment_at, revisit.booked_by = (
            RevisitRequest.Status.BOOKED,
            at,
            actor,
        )
        revisit.save(update_fields=["status", "appointment_at", "booked_by"])
    record(
        actor,
        "update",
        "revisit",
        revisit.pk,
        patient_id=revisit.patient_id,
        summary="revisit booked",
    )
    return revisit


def do_hold_consultation(actor: Any, consultation: RevisitRequest) -> RevisitRequest:
    """A booked consultation took place (by telephone or in person: no visit record tells),
    or the patient came for a booked exam (before its report arrives)."""
    if not actor.has_perm("followup.change_revisitrequest"):
        raise PermissionDenied("no permission to close consultations")
    with transaction.atomic():
        consultation = RevisitRequest.objects.select_for_update().get(pk=consultation.pk)
        if (
            consultation.kind not in (RevisitRequest.Kind.CONSULTATION, RevisitRequest.Kind.EXAM)
            or consultation.status != RevisitRequest.Status.BOOKED
        ):
            raise ValidationError(_("Only a booked consultation or exam can be marked held."))
        consultation.status, consultation.closed_at = (
            RevisitRequest.Status.ATTENDED,
            timezone.now(),
        )
        consultation.save(update_fields=["status", "closed_at"])
    record(
        actor,
        "update",
        "revisit",
        consultation.pk,
        patient_id=consultation.patient_id,
        summary=f"{consultation.kind} held",
    )
    return consultation

"""Whoever owns a patient's alert or notice can open the patient: a responsible doctor of
another department (or moved, or out of reach) is passed over for the nearest one who can, and
the patient form refuses to name one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from careloop.accounts.roles import Role
from careloop.followup.alert_flow import escalate_overdue
from careloop.followup.models import Alert
from careloop.followup.services import raise_alert
from careloop.outreach.models import StaffNotification
from careloop.patients.access import staff_sees
from careloop.patients.models import PatientShare
from tests.factories import OrganisationFactory, PatientFactory, UserFactory
from tests.outreach.test_staff_notify import save_notify_rule
from tests.test_rules import SBP, store


def test_staff_see_patients_of_their_subtree_and_those_shared_with_it(
    hospital: Any,
    cardiology: Any,
    community: Any,
    carol: Any,
    bob: Any,
    dave: Any,
    django_assert_num_queries: Any,
) -> None:
    below = PatientFactory(organisation=cardiology)
    above = PatientFactory(organisation=hospital)
    elsewhere = PatientFactory(organisation=community)
    with django_assert_num_queries(1):  # asked for every alert a batch of results raises
        assert staff_sees(carol.pk, below)
    assert staff_sees(bob.pk, below)
    clerk = UserFactory(organisation=hospital)  # no role: may not view patients
    assert not staff_sees(clerk.pk, below)
    assert not staff_sees(carol.pk, above) and not staff_sees(bob.pk, elsewhere)
    PatientShare.objects.create(patient=elsewhere, organisation=hospital, can_edit=False)
    assert staff_sees(bob.pk, elsewhere) and not staff_sees(dave.pk, above)
    carol.is_active = False
    carol.save()
    assert not staff_sees(carol.pk, below) and not staff_sees(None, below)


def test_an_alert_passes_over_a_responsible_doctor_who_cannot_open_the_patient(
    hospital: Any, carol: Any, bob: Any
) -> None:
    """The patient is the hospital's own; Carol (cardiology, below it) cannot open them, so
    the hospital's doctor gets the alert, or without one its supervisor."""
    patient = PatientFactory(organisation=hospital, responsible_doctor=carol)
    alert = raise_alert(patient, kind="rule", severity="critical", title="血钾 6.8", reason="危急")
    assert alert.assignee == bob  # no doctor at the hospital: the supervisor
    doctor = UserFactory(organisation=hospital, role=Role.DOCTOR)
    alert = raise_alert(patient, kind="rule", severity="critical", title="血钾 6.9", reason="危急")
    assert alert.assignee == doctor
    own = PatientFactory(organisation=carol.organisation, responsible_doctor=carol)
    assert raise_alert(own, kind="rule", severity="high", title="t", reason="r").assignee == carol


def test_a_rule_tells_no_one_of_a_patient_they_cannot_open(hospital: Any, carol: Any) -> None:
    save_notify_rule()
    patient = PatientFactory(organisation=hospital, responsible_doctor=carol)
    store(patient, SBP, 186, timezone.now())
    assert not StaffNotification.objects.filter(user=carol).exists()


def test_escalation_skips_a_responsible_doctor_who_cannot_open_the_patient(
    hospital: Any, carol: Any, alice: Any, bob: Any
) -> None:
    patient = PatientFactory(organisation=hospital, responsible_doctor=carol)
    alert = raise_alert(
        patient, kind="rule", severity="critical", title="t", reason="r", assignee_id=alice.pk
    )
    Alert.objects.filter(pk=alert.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    assert escalate_overdue() == 1
    alert.refresh_from_db()
    assert alert.assignee == bob  # not Carol


def test_the_patient_form_refuses_a_doctor_who_could_not_open_the_patient(
    api_as: Any, hospital: Any, cardiology: Any, bob: Any, carol: Any
) -> None:
    endocrinology = OrganisationFactory(code="H1-ENDO", name="内分泌科", parent=hospital)
    patient = PatientFactory(organisation=endocrinology)
    api = api_as(bob)
    refused = api.patch(f"/api/v1/patients/{patient.pk}", {"responsible_doctor": carol.pk})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "responsible_doctor" and "上级机构" in error["message"]
    hospital_doctor = UserFactory(organisation=hospital, role=Role.DOCTOR)
    ok = api.patch(f"/api/v1/patients/{patient.pk}", {"responsible_doctor": hospital_doctor.pk})
    assert ok.status_code == 200, ok.content
    own = PatientFactory(organisation=cardiology)
    assert (
        api.patch(f"/api/v1/patients/{own.pk}", {"responsible_doctor": carol.pk}).status_code == 200
    )


def test_a_doctor_set_before_the_rule_stays_until_changed_and_the_form_offers_who_can(
    api_as: Any, hospital: Any, cardiology: Any, bob: Any, carol: Any
) -> None:
    """A hospital-level patient whose doctor (set before the rule) is of a department below:
    the record can still be edited; the doctor is refused only when chosen anew, or when the
    patient moves; the form offers only staff who can open the patient."""
    from careloop.patients.forms import PatientForm

    patient = PatientFactory(organisation=hospital, responsible_doctor=carol)
    api = api_as(bob)
    renamed = api.patch(
        f"/api/v1/patients/{patient.pk}", {"name": "钱新名", "responsible_doctor": carol.pk}
    )
    assert renamed.status_code == 200, renamed.content
    other = OrganisationFactory(code="H1-ENDO", name="内分泌科", parent=hospital)
    moved = api.patch(
        f"/api/v1/patients/{patient.pk}", {"organisation": other.pk, "responsible_doctor": carol.pk}
    )
    assert moved.status_code == 422
    hospital_doctor = UserFactory(organisation=hospital, role=Role.DOCTOR)
    form = PatientForm(user=bob, patient=PatientFactory(organisation=cardiology))
    offered = set(form.fields["responsible_doctor"].queryset)
    assert hospital_doctor in offered and carol in offered
    form = PatientForm(user=bob, patient=PatientFactory(organisation=other))
    assert carol not in set(form.fields["responsible_doctor"].queryset)

"""Access scope: own organisation and below, plus explicit shares; nothing else."""

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from careloop.patients.access import get_patient_for, patients_for
from careloop.patients.models import PatientShare


@pytest.fixture
def patients(patient_factory: Any, hospital: Any, cardiology: Any, community: Any) -> dict:
    return {
        "hospital": patient_factory(organisation=hospital),
        "cardiology": patient_factory(organisation=cardiology),
        "community": patient_factory(organisation=community),
    }


def test_hospital_staff_see_their_hospital_and_its_departments(alice: Any, patients: dict) -> None:
    visible = set(patients_for(alice))
    assert visible == {patients["hospital"], patients["cardiology"]}


def test_department_staff_see_only_their_department(carol: Any, patients: dict) -> None:
    assert set(patients_for(carol)) == {patients["cardiology"]}


def test_community_staff_see_only_their_centre(dave: Any, patients: dict) -> None:
    assert set(patients_for(dave)) == {patients["community"]}


def test_a_patient_of_another_organisation_is_not_found(dave: Any, patients: dict) -> None:
    with pytest.raises(Http404):
        get_patient_for(dave, patients["hospital"].pk)


def test_given_a_share_when_read_then_visible_but_not_writable(
    dave: Any, community: Any, patients: dict
) -> None:
    patient = patients["hospital"]
    PatientShare.objects.create(patient=patient, organisation=community, can_edit=False)
    assert get_patient_for(dave, patient.pk) == patient
    with pytest.raises(PermissionDenied):
        get_patient_for(dave, patient.pk, write=True)


def test_given_an_editable_share_then_writable(dave: Any, community: Any, patients: dict) -> None:
    patient = patients["hospital"]
    PatientShare.objects.create(patient=patient, organisation=community, can_edit=True)
    assert get_patient_for(dave, patient.pk, write=True) == patient


def test_a_user_without_organisation_sees_nothing(patients: dict) -> None:
    from tests.factories import UserFactory

    orphan = UserFactory(organisation=None, role="nurse")
    assert list(patients_for(orphan)) == []


def test_a_user_without_a_role_sees_nothing(hospital: Any, patients: dict) -> None:
    from tests.factories import UserFactory

    assert list(patients_for(UserFactory(organisation=hospital))) == []


def test_moving_an_organisation_moves_its_subtree(
    alice: Any, dave: Any, cardiology: Any, community: Any, patients: dict
) -> None:
    cardiology.parent = community
    cardiology.save()
    assert patients["cardiology"] in set(patients_for(dave))
    assert patients["cardiology"] not in set(patients_for(alice))


def test_an_organisation_cannot_move_below_itself(hospital: Any, cardiology: Any) -> None:
    hospital.parent = cardiology
    with pytest.raises(ValueError, match="below itself"):
        hospital.save()

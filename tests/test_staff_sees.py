"""Who may own a patient's alerts, asked once per owner for a batch: the same answers as
asked one by one, at a cost that does not grow with the batch."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careloop.patients.access import staff_sees
from careloop.patients.models import PatientShare
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_batch_memo_answers_as_the_single_question_does(
    hospital: Any, community: Any, alice: Any, dave: Any, patient_factory: Any
) -> None:
    ours, theirs, shared = (
        patient_factory(organisation=o) for o in (hospital, community, community)
    )
    PatientShare.objects.create(patient=shared, organisation=hospital)
    gone = UserFactory(organisation=hospital, role="nurse", is_active=False)
    boss = UserFactory(organisation=community, is_superuser=True)
    memo: dict[Any, Any] = {}
    for user in (alice, dave, gone, boss):
        for patient in (ours, theirs, shared):
            assert staff_sees(user.pk, patient, memo) == staff_sees(user.pk, patient), (
                user.username,
                patient.organisation_id,
            )
    assert staff_sees(alice.pk, ours) and not staff_sees(alice.pk, theirs)
    assert staff_sees(alice.pk, shared) and not staff_sees(gone.pk, ours)
    assert staff_sees(boss.pk, ours)


def test_a_batch_asks_once_per_owner_and_organisation(
    hospital: Any, alice: Any, patient_factory: Any
) -> None:
    patients = [patient_factory(organisation=hospital) for _ in range(12)]
    memo: dict[Any, Any] = {}
    with CaptureQueriesContext(connection) as asked:
        assert all(staff_sees(alice.pk, p, memo) for p in patients)
    assert len(asked) == 2  # the owner, the organisation's path

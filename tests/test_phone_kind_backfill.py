"""The upgrade that marks the phones stored before landlines were taken as mobiles: a batch
at a time, each its own transaction (a city's patient table is not held locked while every
row is rewritten), and a run stopped half-way goes on where it was."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careloop.patients.models import Patient

pytestmark = pytest.mark.django_db

MIGRATION = "careloop.patients.migrations.0009_phone_kind_backfill"


def test_the_phones_stored_before_are_marked_mobile_batch_by_batch(
    patient_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    migration = importlib.import_module(MIGRATION)
    assert migration.Migration.atomic is False  # each batch commits on its own
    with_phone = [patient_factory() for _ in range(5)]
    without = patient_factory(phone="")
    Patient.objects.update(phone_kind="")  # as the added column leaves them
    Patient.objects.filter(pk=with_phone[0].pk).update(phone_kind="mobile")  # done before
    monkeypatch.setattr(migration, "BATCH", 2)
    with CaptureQueriesContext(connection) as queries:
        migration.mark_mobiles(apps, None)
    updates = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 2  # four phones to mark, two a batch
    kinds = dict(Patient.objects.values_list("pk", "phone_kind"))
    assert all(kinds[p.pk] == "mobile" for p in with_phone)
    assert kinds[without.pk] == ""

"""Field encryption at rest: round trip, blind-index lookup, key rotation."""

from typing import Any

import pytest
from django.db import connection

from careloop import crypto
from careloop.env import new_fernet_key
from careloop.patients.models import Patient
from careloop.patients.services import search_patients


def raw_column(patient: Patient, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM patients_patient WHERE id = %s", [patient.pk])
        return cursor.fetchone()[0]


def test_round_trip_and_ciphertext_differs_each_time(settings: Any) -> None:
    token_a, token_b = crypto.encrypt("13800138000"), crypto.encrypt("13800138000")
    assert token_a != token_b
    assert crypto.decrypt(token_a) == crypto.decrypt(token_b) == "13800138000"


def test_identifiers_are_stored_encrypted_and_read_back(patient_factory: Any) -> None:
    patient = patient_factory(phone="13912345678")
    stored_phone = raw_column(patient, "phone")
    stored_id = raw_column(patient, "id_number")
    assert "13912345678" not in stored_phone
    assert patient.id_number not in stored_id
    assert Patient.objects.get(pk=patient.pk).phone == "13912345678"
    # The blind index is a keyed hash, not the number.
    assert raw_column(patient, "phone_hash") != "13912345678"
    assert len(raw_column(patient, "phone_hash")) == 64


def test_lookup_by_hash_ignores_formatting(patient_factory: Any) -> None:
    patient = patient_factory(phone="13912345678")
    found = search_patients(Patient.objects.all(), "139 1234 5678")
    assert list(found) == [patient]


def test_given_a_new_key_when_rotated_then_old_rows_still_read_and_lookups_work(
    patient_factory: Any, settings: Any
) -> None:
    patient = patient_factory(phone="13912345678")
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    old_hash = raw_column(patient, "phone_hash")

    # The new key goes in front; the old one stays for decryption during the rotation.
    settings.FIELD_ENCRYPTION_KEYS = [new_fernet_key(), old_key]
    assert Patient.objects.get(pk=patient.pk).phone == "13912345678"
    assert list(search_patients(Patient.objects.all(), "13912345678")) == [patient]

    counts = crypto.rotate_all()
    assert counts["patients.Patient"] == 1
    assert raw_column(patient, "phone_hash") != old_hash

    # After rotation the old key can go: everything reads under the new one alone.
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert Patient.objects.get(pk=patient.pk).phone == "13912345678"
    assert list(search_patients(Patient.objects.all(), "13912345678")) == [patient]


def test_a_wrong_key_cannot_decrypt(patient_factory: Any, settings: Any) -> None:
    patient = patient_factory()
    settings.FIELD_ENCRYPTION_KEYS = [new_fernet_key()]
    with pytest.raises(crypto.DecryptionError):
        Patient.objects.get(pk=patient.pk)

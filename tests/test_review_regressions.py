"""Defects found in review of the foundation, each pinned by a test."""

from typing import Any

from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop.audit.services import record
from careloop.clinical.models import Encounter
from careloop.patients.models import Patient, PatientContact, PatientShare
from careloop.patients.services import do_update_patient
from tests.factories import UserFactory

PASSWORD = "correct horse battery"


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def code(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, drift=drift):06d}"


def test_two_factor_cannot_be_turned_off_or_bypassed_with_the_password_alone(
    alice: Any,
) -> None:
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    for path in ("/accounts/2fa/disable/", "/accounts/password/", "/accounts/profile/"):
        response = client.post(path) if "disable" in path else client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/2fa/verify/"), path
    assert TOTPDevice.objects.filter(user=alice).exists()
    client.post("/accounts/2fa/verify/", {"token": code(device)})
    device.refresh_from_db()
    device.throttle_reset()
    client.post(
        "/accounts/2fa/disable/", {"token": "000000" if code(device) != "000000" else "111111"}
    )
    assert TOTPDevice.objects.filter(user=alice).exists()  # a wrong code changes nothing
    device.refresh_from_db()
    device.throttle_reset()
    # A code is accepted once; the next time step's code (within the tolerance) is fresh.
    client.post("/accounts/2fa/disable/", {"token": code(device, drift=1)})
    assert not TOTPDevice.objects.filter(user=alice).exists()


def test_a_shared_editor_corrects_but_cannot_take_over_or_reshare(
    alice: Any, dave: Any, community: Any, hospital: Any, api_as: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    PatientShare.objects.create(patient=patient, organisation=community, can_edit=True)
    client = api_as(dave)
    url = f"/api/v1/patients/{patient.pk}"
    moved = client.patch(url, {"organisation": community.pk})
    assert moved.status_code == 422
    assert {e["field"] for e in moved.json()["errors"]} == {"organisation"}
    assert client.patch(url, {"address": "和平路1号"}).status_code == 200
    assert api_as(alice).get(url).status_code == 200  # still the hospital's patient
    supervisor = UserFactory(organisation=community, role="supervisor")
    onward = api_as(supervisor).post(f"{url}/shares", {"organisation": community.pk})
    assert onward.status_code == 403
    # The web form keeps the owner's organisation and lets the editor save a correction.
    page = logged_in(dave).get(f"/patients/{patient.pk}/edit/").content.decode()
    assert 'name="organisation"' in page and "disabled" in page
    assert hospital.name in page


def test_the_audit_page_names_only_patients_the_reader_can_see(
    bob: Any, dave: Any, patient_factory: Any, hospital: Any, community: Any
) -> None:
    theirs = patient_factory(organisation=community, name="社区患者甲")
    PatientShare.objects.create(patient=theirs, organisation=hospital)
    record(bob, "view", "patient", theirs.pk, patient_id=theirs.pk)
    PatientShare.objects.all().delete()
    page = logged_in(bob).get("/audit/").content.decode()
    assert "社区患者甲" not in page
    assert f"#{theirs.pk}" in page


def test_full_width_identifiers_are_duplicates_of_their_ascii_form(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    first = client.post(
        "/api/v1/patients",
        {"name": "甲", "id_number": "11010519491231002X", "phone": "13800012345"},
    )
    assert first.status_code == 201
    wide_id = "１１０１０５１９４９１２３１００２Ｘ"
    wide = client.post("/api/v1/patients", {"name": "乙", "id_number": wide_id})
    assert wide.status_code == 409
    found = client.get("/api/v1/patients", {"search": "１３８０００１２３４５"}).json()
    assert [p["id"] for p in found["results"]] == [first.json()["id"]]


def test_nurses_add_encounters_but_do_not_change_or_delete_them(
    alice: Any, carol: Any, hospital: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    encounter = Encounter.objects.create(
        patient=patient, kind="outpatient", started_at="2026-11-01T09:00:00+08:00"
    )
    nurse = logged_in(alice)
    base = f"/patients/{patient.pk}/record/encounter/{encounter.pk}"
    assert nurse.get(f"{base}/").status_code == 403
    assert nurse.post(f"{base}/delete/").status_code == 403
    assert Encounter.objects.filter(pk=encounter.pk).exists()
    doctor = UserFactory(organisation=hospital, role="doctor")
    assert logged_in(doctor).post(f"{base}/delete/").status_code == 302
    assert not Encounter.objects.filter(pk=encounter.pk).exists()


def test_removing_a_contact_keeps_the_others_phones(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation, sex="male")
    first = PatientContact.objects.create(
        patient=patient, name="甲", relation="child", phone="13911110000"
    )
    second = PatientContact.objects.create(
        patient=patient, name="乙", relation="spouse", phone="13922220000"
    )
    data = {
        "name": patient.name,
        "sex": "male",
        "birth_date": "1960-05-01",
        "id_number": "",
        "phone": "",
        "passport": "",
        "address": "",
        "mrn": "",
        "exam_number": "",
        "organisation": patient.organisation_id,
        "care_team": "",
        "responsible_doctor": "",
        "health_manager": "",
        "preferred_channel": "",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "digital_literacy": "medium",
        "contacts-TOTAL_FORMS": "2",
        "contacts-INITIAL_FORMS": "2",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "10",
        "contacts-0-contact_id": str(first.pk),
        "contacts-0-name": "甲",
        "contacts-0-relation": "child",
        "contacts-0-phone": "",
        "contacts-0-DELETE": "on",
        "contacts-1-contact_id": str(second.pk),
        "contacts-1-name": "乙二",
        "contacts-1-relation": "spouse",
        "contacts-1-phone": "",
    }
    response = logged_in(alice).post(f"/patients/{patient.pk}/edit/", data)
    assert response.status_code == 302
    [remaining] = PatientContact.objects.filter(patient=patient)
    assert (remaining.name, remaining.phone) == ("乙二", "13922220000")


def test_an_update_writes_only_its_own_fields(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation, address="旧地址")
    stale = Patient.objects.get(pk=patient.pk)
    Patient.objects.filter(pk=patient.pk).update(lives_alone=True)  # someone else's change
    stale.address = "not saved"  # an in-memory value this update must not write
    do_update_patient(alice, stale, {"phone": "13933334444"})
    fresh = Patient.objects.get(pk=patient.pk)
    assert fresh.lives_alone is True
    assert fresh.address == "旧地址"
    assert fresh.phone == "13933334444"


def test_paging_links_encode_the_search(alice: Any, api_as: Any, patient_factory: Any) -> None:
    for _ in range(3):
        patient_factory(organisation=alice.organisation, name="张&三")
    body = api_as(alice).get("/api/v1/patients", {"search": "张&三", "page_size": 1}).json()
    assert body["next"].endswith("search=%E5%BC%A0%26%E4%B8%89")

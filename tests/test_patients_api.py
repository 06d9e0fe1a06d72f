"""/api/v1/patients: enrolment, validation, duplicates, masking, search, reveal, consent."""

from datetime import date
from typing import Any

import pytest

from careloop.audit.models import AuditEvent
from careloop.patients.models import ConsentRecord, Patient
from careloop.patients.services import luhn_check_digit
from tests.factories import TeamFactory, valid_id

ID = valid_id(date(1958, 6, 15), male=False)  # a woman born 1958-06-15


def enrol_body(**overrides: Any) -> dict[str, Any]:
    body = {"name": "张秀英", "id_number": ID, "phone": "13812348000"}
    body.update(overrides)
    return body


def error_fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


# ------------------------------------------------------------------------------- auth


def test_without_a_token_the_api_answers_401(anonymous_api: Any, db: None) -> None:
    response = anonymous_api.get("/api/v1/patients")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()


def test_a_wrong_token_answers_401(db: None) -> None:
    from tests.conftest import ApiClient

    assert ApiClient("cl_deadbeef_nottherealsecret").get("/api/v1/patients").status_code == 401


def test_a_revoked_token_answers_401(alice: Any) -> None:
    from careloop.accounts.tokens import do_create_token, do_revoke_token
    from tests.conftest import ApiClient

    item, token = do_create_token(alice)
    client = ApiClient(token)
    assert client.get("/api/v1/patients").status_code == 200
    do_revoke_token(item.prefix)
    assert client.get("/api/v1/patients").status_code == 401


def test_a_user_without_a_role_gets_403(hospital: Any, api_as: Any) -> None:
    from tests.factories import UserFactory

    client = api_as(UserFactory(organisation=hospital))
    assert client.get("/api/v1/patients").status_code == 403
    assert client.post("/api/v1/patients", enrol_body()).status_code == 403
    assert Patient.objects.count() == 0


# ------------------------------------------------------------------------------- create


def test_enrolment_issues_a_card_and_derives_sex_and_birth_date(alice: Any, api_as: Any) -> None:
    response = api_as(alice).post(
        "/api/v1/patients",
        enrol_body(
            contacts=[
                {"name": "李强", "relation": "child", "phone": "13900001111", "is_guardian": True}
            ],
            consents=[{"purpose": "followup", "channel": "phone"}],
            quiet_hours_start="20:30",
            preferred_channel="phone",
            lives_alone=True,
        ),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    card = body["card_number"]
    assert len(card) == 12 and card.isdigit()
    assert luhn_check_digit(card[:-1]) == card[-1]
    assert body["sex"] == "female"
    assert body["birth_date"] == "1958-06-15"
    assert body["id_number"] == ID[:6] + "********" + ID[-4:]
    assert body["phone"] == "138****8000"
    assert body["organisation"]["name"] == alice.organisation.name
    assert body["contacts"][0]["phone"] == "139****1111"
    assert body["consents"][0]["purpose"] == "followup"
    assert body["quiet_hours_start"] == "20:30"
    assert ID not in response.content.decode()
    assert "13812348000" not in response.content.decode()
    patient = Patient.objects.get(pk=body["id"])
    assert patient.created_by == alice
    assert AuditEvent.objects.filter(action="create", patient_id=patient.pk).exists()


def test_enrolment_without_an_id_needs_sex_and_birth_date(alice: Any, api_as: Any) -> None:
    response = api_as(alice).post("/api/v1/patients", {"name": "王伟", "phone": "13812348000"})
    assert response.status_code == 422
    assert error_fields(response) == {"sex", "birth_date"}
    ok = api_as(alice).post(
        "/api/v1/patients", {"name": "王伟", "sex": "male", "birth_date": "1970-01-02"}
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": ID[:-1] + ("0" if ID[-1] != "0" else "1")}, "id_number"),
        ({"id_number": "12345"}, "id_number"),
        ({"sex": "male"}, "sex"),
        ({"birth_date": "1958-06-16"}, "birth_date"),
        ({"birth_date": "15/06/1958"}, "birth_date"),
        ({"phone": "12345678901"}, "phone"),
        ({"phone": "1381234800"}, "phone"),
        ({"name": ""}, "name"),
        ({"name": "张" * 51}, "name"),
        ({"passport": "!!"}, "passport"),
        ({"preferred_channel": "pigeon"}, "preferred_channel"),
        ({"digital_literacy": "expert"}, "digital_literacy"),
        ({"quiet_hours_start": "25:00"}, "quiet_hours_start"),
        ({"organisation": 999999}, "organisation"),
        ({"contacts": [{"name": "李强", "phone": "999"}]}, "contacts[0].phone"),
        ({"contacts": [{"name": "", "relation": "child"}]}, "contacts[0].name"),
        ({"consents": [{"purpose": "spam", "channel": "sms"}]}, "consents[0].purpose"),
    ],
)
def test_each_invalid_field_is_named_and_nothing_is_saved(
    alice: Any, api_as: Any, overrides: dict, field: str
) -> None:
    response = api_as(alice).post("/api/v1/patients", enrol_body(**overrides))
    assert response.status_code == 422, response.content
    assert field in error_fields(response)
    assert all(e["message"] for e in response.json()["errors"])
    assert Patient.objects.count() == 0


def test_missing_name_is_named(alice: Any, api_as: Any) -> None:
    response = api_as(alice).post("/api/v1/patients", {"id_number": ID})
    assert response.status_code == 422
    assert "name" in error_fields(response)


def test_malformed_json_is_a_400(alice: Any, api_as: Any) -> None:
    response = api_as(alice).post("/api/v1/patients", raw='{"name": "张三", ')
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_an_organisation_outside_the_users_scope_is_refused(
    alice: Any, community: Any, api_as: Any
) -> None:
    response = api_as(alice).post("/api/v1/patients", enrol_body(organisation=community.pk))
    assert response.status_code == 422
    assert error_fields(response) == {"organisation"}


def test_messages_follow_the_requested_language(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    bad = enrol_body(phone="123")
    zh = client.client.post(
        "/api/v1/patients",
        bad,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
        **client.headers,
    )
    en = client.client.post(
        "/api/v1/patients",
        bad,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **client.headers,
    )
    assert "手机号" in zh.json()["errors"][0]["message"]
    assert "mobile number" in en.json()["errors"][0]["message"]


# ------------------------------------------------------------------------------- duplicates


def test_the_same_id_number_is_refused_with_a_link(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    first = client.post("/api/v1/patients", enrol_body()).json()
    response = client.post("/api/v1/patients", enrol_body(name="张秀", phone="13912340000"))
    assert response.status_code == 409
    body = response.json()
    assert body["field"] == "id_number"
    assert body["existing"]["id"] == first["id"]
    assert body["existing"]["url"] == f"/api/v1/patients/{first['id']}"
    assert Patient.objects.count() == 1


def test_the_same_id_number_with_spaces_and_lower_x_is_still_a_duplicate(
    alice: Any, api_as: Any
) -> None:
    client = api_as(alice)
    number = "11010519491231002X"
    assert client.post("/api/v1/patients", {"name": "甲", "id_number": number}).status_code == 201
    again = client.post("/api/v1/patients", {"name": "乙", "id_number": number.lower()})
    assert again.status_code == 409


def test_a_first_generation_15_digit_id_number_is_enrolled_as_its_18_digit_number(
    alice: Any, api_as: Any
) -> None:
    # 一代身份证: 110105 + 491231 (1949-12-31) + 002 (even: a woman), no check character.
    response = api_as(alice).post(
        "/api/v1/patients", {"name": "王淑珍", "id_number": "110105491231002"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sex"] == "female" and body["birth_date"] == "1949-12-31"
    assert body["id_number"] == "110105********002X"
    assert Patient.objects.get(pk=body["id"]).id_number == "11010519491231002X"


def test_the_15_and_18_digit_forms_of_one_id_number_are_one_person(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    first = client.post("/api/v1/patients", {"name": "甲", "id_number": "11010519491231002X"})
    again = client.post("/api/v1/patients", {"name": "乙", "id_number": "110105491231002"})
    assert again.status_code == 409, again.content
    assert again.json()["existing"]["id"] == first.json()["id"]
    found = client.get("/api/v1/patients", {"search": "110105491231002"}).json()
    assert [p["id"] for p in found["results"]] == [first.json()["id"]]


def test_a_15_digit_id_number_with_an_impossible_date_is_refused_naming_it(
    alice: Any, api_as: Any
) -> None:
    response = api_as(alice).post(
        "/api/v1/patients", {"name": "甲", "id_number": "110105490230002"}
    )
    assert response.status_code == 422
    [error] = [e for e in response.json()["errors"] if e["field"] == "id_number"]
    assert "15" in error["message"] and "出生日期" in error["message"]
    assert Patient.objects.count() == 0


def test_the_same_phone_and_name_is_refused(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    client.post(
        "/api/v1/patients",
        {"name": "刘芳", "sex": "female", "birth_date": "1960-01-01", "phone": "13700001234"},
    )
    same = client.post(
        "/api/v1/patients",
        {"name": "刘芳", "sex": "female", "birth_date": "1961-01-01", "phone": "137 0000 1234"},
    )
    assert same.status_code == 409
    assert same.json()["field"] == "phone"
    family = client.post(
        "/api/v1/patients",
        {"name": "刘强", "sex": "male", "birth_date": "1958-01-01", "phone": "13700001234"},
    )
    assert family.status_code == 201  # a relative may share the phone


def test_a_landline_is_accepted_stored_masked_and_matched_however_it_is_written(
    alice: Any, api_as: Any
) -> None:
    client = api_as(alice)
    body = {"name": "刘桂英", "sex": "female", "birth_date": "1938-05-01"}
    response = client.post("/api/v1/patients", body | {"phone": "010 6234 5678"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["phone"], created["phone_kind"]) == ("010-****5678", "landline")
    patient = Patient.objects.get()
    assert (patient.phone, patient.phone_kind) == ("010-62345678", "landline")
    # The same person enrolled again with the number written another way: a duplicate.
    again = client.post("/api/v1/patients", body | {"phone": "(010)62345678"})
    assert again.status_code == 409 and again.json()["field"] == "phone"
    found = client.get("/api/v1/patients", {"search": "010-62345678"}).json()["results"]
    assert [p["id"] for p in found] == [created["id"]]
    contact = client.patch(
        f"/api/v1/patients/{created['id']}",
        {"contacts": [{"name": "刘强", "relation": "child", "phone": "0755-12345678转8001"}]},
    )
    assert contact.status_code == 200, contact.content
    assert contact.json()["contacts"][0]["phone"] == "0755-****5678转8001"


def test_a_landline_without_its_area_code_is_refused_asking_for_it(alice: Any, api_as: Any) -> None:
    response = api_as(alice).post(
        "/api/v1/patients",
        {"name": "刘桂英", "sex": "female", "birth_date": "1938-05-01", "phone": "62345678"},
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "phone" and "区号" in error["message"]


def test_the_same_mrn_is_refused(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    client.post(
        "/api/v1/patients",
        {"name": "甲", "sex": "male", "birth_date": "1960-01-01", "mrn": "MZ0001"},
    )
    response = client.post(
        "/api/v1/patients",
        {"name": "乙", "sex": "male", "birth_date": "1961-01-01", "mrn": "mz0001"},
    )
    assert response.status_code == 409
    assert response.json()["field"] == "mrn"


def test_a_duplicate_in_another_organisation_gives_no_link(
    alice: Any, dave: Any, api_as: Any
) -> None:
    api_as(dave).post("/api/v1/patients", enrol_body())
    response = api_as(alice).post("/api/v1/patients", enrol_body())
    assert response.status_code == 409
    assert response.json()["existing"] is None
    assert (
        "another organisation" in response.json()["detail"] or "机构" in response.json()["detail"]
    )


# ------------------------------------------------------------------------------- read, change


def test_read_is_masked_and_audited(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    created = client.post("/api/v1/patients", enrol_body()).json()
    response = client.get(f"/api/v1/patients/{created['id']}")
    assert response.status_code == 200
    assert response.json()["phone"] == "138****8000"
    assert AuditEvent.objects.filter(action="view", patient_id=created["id"], via="api").exists()


def test_a_patient_read_changed_and_sent_back_keeps_its_masked_identifiers(
    alice: Any, bob: Any, api_as: Any
) -> None:
    """GET, change a field, PATCH it all back: the masked ID number, phone and passport
    mean "unchanged", as the record numbers and as FHIR (they were refused as not valid)."""
    client = api_as(alice)
    created = client.post("/api/v1/patients", enrol_body(passport="E12345678")).json()
    read = client.get(f"/api/v1/patients/{created['id']}").json()
    assert "*" in read["id_number"] and "*" in read["phone"] and "*" in read["passport"]
    sent = {k: read[k] for k in ("id_number", "phone", "passport", "mrn", "name")}
    changed = client.patch(f"/api/v1/patients/{created['id']}", {**sent, "name": "张秀兰"})
    assert changed.status_code == 200, changed.content
    patient = Patient.objects.get(pk=created["id"])
    assert (patient.name, patient.id_number) == ("张秀兰", ID)
    assert (patient.phone, patient.passport) == ("13812348000", "E12345678")
    revealed = api_as(bob).post(f"/api/v1/patients/{patient.pk}/reveal", {"field": "phone"})
    assert revealed.json()["value"] == "13812348000"
    event = AuditEvent.objects.filter(action="update", patient_id=patient.pk).get()
    assert set(event.changes) == {"name"}


def test_contacts_read_and_sent_back_keep_their_masked_phones(alice: Any, api_as: Any) -> None:
    """Contacts are replaced whole by a PATCH: one read (its phone masked) and sent back was
    refused as not a valid number, so no read-change-write of a patient with contacts worked."""
    client = api_as(alice)
    contacts = [
        {"name": "李强", "relation": "child", "phone": "13911112222", "is_emergency": True},
        {"name": "李梅", "relation": "child", "phone": "13733334444"},
    ]
    created = client.post("/api/v1/patients", enrol_body(contacts=contacts)).json()
    read = client.get(f"/api/v1/patients/{created['id']}").json()
    sent = [dict(c) for c in read["contacts"]]
    assert [c["phone"] for c in sent] == ["139****2222", "137****4444"]
    sent[1]["note"] = "周末联系"
    sent.append({"name": "王芳", "relation": "spouse", "phone": "13655556666"})
    changed = client.patch(f"/api/v1/patients/{created['id']}", {"contacts": sent})
    assert changed.status_code == 200, changed.content
    stored = Patient.objects.get(pk=created["id"]).contacts.order_by("pk")
    assert [(c.name, c.phone, c.note) for c in stored] == [
        ("李强", "13911112222", ""),
        ("李梅", "13733334444", "周末联系"),
        ("王芳", "13655556666", ""),
    ]
    # A masked number that is no stored contact's is named, not guessed.
    wrong = [{"name": "李强", "relation": "child", "phone": "139****9999"}]
    refused = client.patch(f"/api/v1/patients/{created['id']}", {"contacts": wrong})
    assert refused.status_code == 422 and error_fields(refused) == {"contacts[0].phone"}


def test_another_organisations_patient_is_404(alice: Any, dave: Any, api_as: Any) -> None:
    created = api_as(alice).post("/api/v1/patients", enrol_body()).json()
    assert api_as(dave).get(f"/api/v1/patients/{created['id']}").status_code == 404
    assert (
        api_as(dave).patch(f"/api/v1/patients/{created['id']}", {"name": "改名"}).status_code == 404
    )


def test_patch_changes_only_what_is_sent_and_audits_old_and_new(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    created = client.post("/api/v1/patients", enrol_body(address="北京市东城区")).json()
    response = client.patch(
        f"/api/v1/patients/{created['id']}", {"phone": "13911112222", "digital_literacy": "low"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone"] == "139****2222"
    assert body["digital_literacy"] == "low"
    assert body["address"] == "北京市东城区"
    event = AuditEvent.objects.filter(action="update", patient_id=created["id"]).get()
    assert event.changes["phone"] == ["138****8000", "139****2222"]
    assert event.changes["digital_literacy"] == ["medium", "low"]
    assert "13911112222" not in str(event.changes)


def test_staff_set_the_risk_tier_and_it_is_audited(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    created = client.post("/api/v1/patients", enrol_body()).json()
    assert created["risk_tier"] == ""
    response = client.patch(f"/api/v1/patients/{created['id']}", {"risk_tier": "high"})
    assert response.status_code == 200 and response.json()["risk_tier"] == "high"
    event = AuditEvent.objects.filter(action="update", patient_id=created["id"]).get()
    assert event.changes["risk_tier"] == ["", "high"]
    wrong = client.patch(f"/api/v1/patients/{created['id']}", {"risk_tier": "extreme"})
    assert wrong.status_code == 422 and "risk_tier" in wrong.content.decode()
    assert Patient.objects.get(pk=created["id"]).risk_tier == "high"


def test_a_team_kept_from_elsewhere_does_not_block_an_edit(
    dave: Any, team: Any, patient_factory: Any, api_as: Any
) -> None:
    # A community patient followed by the hospital's specialist team (as in the demo).
    patient = patient_factory(organisation=dave.organisation, care_team=team)
    client = api_as(dave)
    kept = client.patch(
        f"/api/v1/patients/{patient.pk}", {"care_team": team.pk, "risk_tier": "high"}
    )
    assert kept.status_code == 200, kept.content
    assert kept.json()["care_team"]["id"] == team.pk and kept.json()["risk_tier"] == "high"
    other = TeamFactory(organisation=team.organisation, name="另一个组")
    moved = client.patch(f"/api/v1/patients/{patient.pk}", {"care_team": other.pk})
    assert moved.status_code == 422 and "care_team" in moved.content.decode()


def test_patch_cannot_contradict_the_id_number(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    created = client.post("/api/v1/patients", enrol_body()).json()
    response = client.patch(f"/api/v1/patients/{created['id']}", {"sex": "male"})
    assert response.status_code == 422
    assert error_fields(response) == {"sex"}
    assert Patient.objects.get(pk=created["id"]).sex == "female"


def test_patch_to_another_patients_id_is_a_duplicate(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    client.post("/api/v1/patients", enrol_body())
    other = client.post(
        "/api/v1/patients", {"name": "王五", "sex": "male", "birth_date": "1950-01-01"}
    ).json()
    response = client.patch(
        f"/api/v1/patients/{other['id']}",
        {"id_number": ID, "sex": "female", "birth_date": "1958-06-15"},
    )
    assert response.status_code == 409


def test_the_same_passport_is_refused_but_a_patient_keeps_its_own(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    body = {"name": "李明", "sex": "male", "birth_date": "1970-01-01", "passport": "E12345678"}
    first = client.post("/api/v1/patients", body).json()
    again = client.post("/api/v1/patients", {**body, "name": "李明明"})
    assert again.status_code == 409
    assert again.json()["field"] == "passport"
    assert again.json()["existing"]["id"] == first["id"]
    # Sending its own identifiers again is no duplicate of itself.
    same = client.patch(
        f"/api/v1/patients/{first['id']}", {"passport": "E12345678", "phone": "13700002222"}
    )
    assert same.status_code == 200
    sibling = client.post(
        "/api/v1/patients",
        {"name": "李明", "sex": "male", "birth_date": "1972-01-01", "phone": "13700002222"},
    )
    assert sibling.status_code == 409
    assert sibling.json()["field"] == "phone"


# ------------------------------------------------------------------------------- search


@pytest.fixture
def enrolled(alice: Any, dave: Any, api_as: Any) -> dict[str, Any]:
    client = api_as(alice)
    zhang = client.post("/api/v1/patients", enrol_body(mrn="MZ778899")).json()
    li = client.post(
        "/api/v1/patients",
        {"name": "李建国", "sex": "male", "birth_date": "1949-10-01", "phone": "13600006666"},
    ).json()
    api_as(dave).post(
        "/api/v1/patients",
        {"name": "张秀兰", "sex": "female", "birth_date": "1955-01-01", "phone": "13500005555"},
    )
    return {"client": client, "zhang": zhang, "li": li}


@pytest.mark.parametrize(
    ("term", "who"),
    [
        ("张秀", "zhang"),
        ("138 1234 8000", "zhang"),
        (ID, "zhang"),
        ("MZ778899", "zhang"),
        ("13600006666", "li"),
        ("建国", "li"),
    ],
)
def test_search_finds_by_name_or_exact_identifier(enrolled: dict, term: str, who: str) -> None:
    response = enrolled["client"].get("/api/v1/patients", {"search": term})
    assert response.status_code == 200
    ids = [p["id"] for p in response.json()["results"]]
    assert ids == [enrolled[who]["id"]]


def test_search_by_card_number(enrolled: dict) -> None:
    card = enrolled["li"]["card_number"]
    ids = [
        p["id"]
        for p in enrolled["client"].get("/api/v1/patients", {"search": card}).json()["results"]
    ]
    assert ids == [enrolled["li"]["id"]]


def test_search_never_crosses_organisations(enrolled: dict) -> None:
    names = {
        p["name"]
        for p in enrolled["client"].get("/api/v1/patients", {"search": "张"}).json()["results"]
    }
    assert names == {"张秀英"}
    assert (
        enrolled["client"].get("/api/v1/patients", {"search": "13500005555"}).json()["count"] == 0
    )


def test_list_is_paginated(alice: Any, api_as: Any, patient_factory: Any) -> None:
    for _ in range(5):
        patient_factory(organisation=alice.organisation)
    client = api_as(alice)
    first = client.get("/api/v1/patients", {"page_size": 2}).json()
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["next"].endswith("page=2&page_size=2")
    assert first["previous"] is None
    last = client.get("/api/v1/patients", {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    beyond = client.get("/api/v1/patients", {"page_size": 2, "page": 9}).json()
    assert beyond["results"] == []


# ------------------------------------------------------------------------------- reveal


def test_reveal_is_allowed_by_role_and_audited(alice: Any, bob: Any, api_as: Any) -> None:
    created = api_as(alice).post("/api/v1/patients", enrol_body()).json()
    url = f"/api/v1/patients/{created['id']}/reveal"
    nurse = api_as(alice)
    assert nurse.post(url, {"field": "phone"}).json()["value"] == "13812348000"
    assert nurse.post(url, {"field": "id_number"}).status_code == 403
    assert api_as(bob).post(url, {"field": "id_number"}).json()["value"] == ID
    reveals = AuditEvent.objects.filter(action="reveal", patient_id=created["id"])
    assert sorted(e.actor.username for e in reveals) == ["alice", "bob"]
    assert api_as(bob).post(url, {"field": "address"}).status_code == 422


def test_record_numbers_leave_masked_and_are_revealed_by_role(
    alice: Any, bob: Any, api_as: Any
) -> None:
    """Given a patient enrolled with an outpatient and an exam number, when the API returns
    them, then both are masked (as on the patient page); a role that may see identifiers
    reveals them (audited), and a masked number sent back in a change keeps the stored one."""
    nurse = api_as(alice)
    created = nurse.post("/api/v1/patients", enrol_body(mrn="MZ20261234", exam_number="TJ778899"))
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["mrn"], body["exam_number"]) == ("MZ******34", "TJ****99")
    read = nurse.get(f"/api/v1/patients/{body['id']}").json()
    assert "MZ20261234" not in str(read) and "TJ778899" not in str(read)
    listed = nurse.get("/api/v1/patients", {"search": "MZ20261234"}).json()["results"]
    assert [p["mrn"] for p in listed] == ["MZ******34"]

    url = f"/api/v1/patients/{body['id']}/reveal"
    assert nurse.post(url, {"field": "record_numbers"}).status_code == 403
    shown = api_as(bob).post(url, {"field": "record_numbers"}).json()["value"]
    assert "MZ20261234" in shown and "TJ778899" in shown
    assert AuditEvent.objects.filter(
        action="reveal", patient_id=body["id"], summary="revealed record_numbers"
    ).exists()

    as_read = {"mrn": read["mrn"], "exam_number": read["exam_number"], "lives_alone": True}
    changed = nurse.patch(f"/api/v1/patients/{body['id']}", as_read)
    assert changed.status_code == 200, changed.content
    patient = Patient.objects.get(pk=body["id"])
    assert sorted(i.value for i in patient.identifiers.all()) == ["MZ20261234", "TJ778899"]


# ------------------------------------------------------------------------------- consent


def test_consent_history_and_current_answer(alice: Any, api_as: Any) -> None:
    client = api_as(alice)
    created = client.post(
        "/api/v1/patients", enrol_body(consents=[{"purpose": "followup", "channel": "sms"}])
    ).json()
    url = f"/api/v1/patients/{created['id']}/consents"
    withdrawn = client.post(
        url,
        {
            "purpose": "followup",
            "channel": "sms",
            "granted": False,
            "method": "reply",
            "note": "回复T退订",
        },
    )
    assert withdrawn.status_code == 201
    history = client.get(url).json()
    assert [item["granted"] for item in history] == [False, True]
    assert history[0]["recorded_by"] == "alice"
    current = client.get(f"/api/v1/patients/{created['id']}").json()["consents"]
    assert [(c["channel"], c["granted"]) for c in current] == [("sms", False)]
    assert ConsentRecord.objects.count() == 2
    bad = client.post(url, {"purpose": "followup", "channel": "fax"})
    assert bad.status_code == 422
    assert error_fields(bad) == {"channel"}


# ------------------------------------------------------------------------------- sharing


def test_sharing_gives_another_organisation_access(
    bob: Any, dave: Any, community: Any, api_as: Any, alice: Any
) -> None:
    created = api_as(alice).post("/api/v1/patients", enrol_body()).json()
    url = f"/api/v1/patients/{created['id']}/shares"
    assert api_as(dave).get(f"/api/v1/patients/{created['id']}").status_code == 404
    assert api_as(alice).post(url, {"organisation": community.pk}).status_code == 403  # nurse
    share = api_as(bob).post(url, {"organisation": community.pk, "reason": "转社区随访"})
    assert share.status_code == 201, share.content
    assert share.json()["organisation"]["id"] == community.pk
    assert api_as(dave).get(f"/api/v1/patients/{created['id']}").status_code == 200
    assert (
        api_as(dave).patch(f"/api/v1/patients/{created['id']}", {"lives_alone": True}).status_code
        == 403
    )
    assert api_as(bob).post(url, {"organisation": bob.organisation.pk}).status_code == 422
    removed = api_as(bob).client.delete(f"{url}/{share.json()['id']}", **api_as(bob).headers)
    assert removed.status_code == 204
    assert api_as(dave).get(f"/api/v1/patients/{created['id']}").status_code == 404
    assert AuditEvent.objects.filter(object_type="share").count() == 2


def test_a_wrong_id_number_is_the_only_error_reported(alice: Any, api_as: Any) -> None:
    bad = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    response = api_as(alice).post("/api/v1/patients", {"name": "张三", "id_number": bad})
    assert response.status_code == 422
    assert error_fields(response) == {"id_number"}


def test_a_search_with_a_nul_character_is_refused_naming_the_parameter(
    alice: Any, api_as: Any, patient_factory: Any, hospital: Any
) -> None:
    patient_factory(organisation=hospital, name="王小明")
    response = api_as(alice).get("/api/v1/patients", {"search": "王\x00小明"})
    assert response.status_code == 400
    assert error_fields(response) == {"search"}


def test_a_note_or_reason_too_long_is_refused_not_cut(
    alice: Any, bob: Any, community: Any, api_as: Any
) -> None:
    long = "长" * 201  # each is kept in 200 characters: the rest was dropped without a word
    contact = {"name": "李四", "relation": "child", "phone": "13900139000", "note": long}
    enrolled = api_as(alice).post("/api/v1/patients", enrol_body(contacts=[contact]))
    assert enrolled.status_code == 422 and error_fields(enrolled) == {"contacts[0].note"}
    patient = api_as(alice).post("/api/v1/patients", enrol_body()).json()["id"]
    consent = {"purpose": "followup", "channel": "sms", "granted": False, "note": long}
    refused = api_as(alice).post(f"/api/v1/patients/{patient}/consents", consent)
    assert refused.status_code == 422 and error_fields(refused) == {"note"}
    share = {"organisation": community.pk, "reason": long}
    unshared = api_as(bob).post(f"/api/v1/patients/{patient}/shares", share)
    assert unshared.status_code == 422 and error_fields(unshared) == {"reason"}
    assert not ConsentRecord.objects.filter(patient_id=patient, channel="sms").exists()
    assert not Patient.objects.get(pk=patient).shares.exists()
    kept = api_as(alice).post(f"/api/v1/patients/{patient}/consents", {**consent, "note": long[1:]})
    assert kept.status_code == 201 and kept.json()["note"] == long[1:]

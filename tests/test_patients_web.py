"""The staff pages for patients, through Django's test client."""

from datetime import date
from typing import Any

import pytest
from django.test import Client

from careloop.audit.models import AuditEvent
from careloop.clinical.models import Condition
from careloop.patients.models import ConsentRecord, Lifestyle, Patient
from tests.factories import valid_id

ID = valid_id(date(1952, 2, 29), male=True)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def enrol_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "赵建华",
        "id_number": ID,
        "sex": "",
        "birth_date": "",
        "phone": "138 0013 8000",
        "passport": "",
        "address": "北京市东城区幸福路1号",
        "mrn": "MZ12345",
        "exam_number": "",
        "care_team": "",
        "responsible_doctor": "",
        "health_manager": "",
        "preferred_channel": "phone",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "digital_literacy": "low",
        "consents": ["followup:phone", "followup:sms"],
        "contacts-TOTAL_FORMS": "1",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "10",
        "contacts-0-name": "赵小明",
        "contacts-0-relation": "child",
        "contacts-0-phone": "13900002222",
        "contacts-0-is_guardian": "on",
    }
    data.update(overrides)
    return data


def test_pages_need_a_login(db: None) -> None:
    response = Client().get("/patients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_enrolment_form_creates_the_patient(alice: Any) -> None:
    client = logged_in(alice)
    data = enrol_form(organisation=alice.organisation.pk)
    response = client.post("/patients/new/", data, follow=True)
    patient = Patient.objects.get()
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    page = response.content.decode()
    assert patient.formatted_card_number in page
    assert "13800138000" not in page and ID not in page
    assert "138****8000" in page
    assert patient.sex == "male" and patient.birth_date == date(1952, 2, 29)
    assert patient.contacts.get().is_guardian
    assert ConsentRecord.objects.filter(patient=patient, granted=True).count() == 2
    assert patient.identifiers.get().value == "MZ12345"


def test_enrolment_errors_are_shown_on_their_fields_and_nothing_is_saved(alice: Any) -> None:
    client = logged_in(alice)
    bad_id = ID[:-1] + ("1" if ID[-1] == "0" else "0")
    data = enrol_form(
        organisation=alice.organisation.pk,
        id_number=bad_id,
        phone="12345",
        **{"contacts-0-phone": "555"},
    )
    response = client.post("/patients/new/", data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_id_number_error"' in page
    assert 'id="id_phone_error"' in page
    assert 'id="id_contacts-0-phone_error"' in page
    assert Patient.objects.count() == 0


def test_a_duplicate_shows_a_link_to_the_existing_record(alice: Any) -> None:
    client = logged_in(alice)
    client.post("/patients/new/", enrol_form(organisation=alice.organisation.pk))
    existing = Patient.objects.get()
    response = client.post(
        "/patients/new/", enrol_form(organisation=alice.organisation.pk, name="赵建", phone="")
    )
    page = response.content.decode()
    assert 'data-testid="duplicate"' in page
    assert f'href="/patients/{existing.pk}/"' in page
    assert Patient.objects.count() == 1


def test_a_15_digit_id_number_typed_in_the_form_is_converted_and_said_so(alice: Any) -> None:
    client = logged_in(alice)
    data = enrol_form(organisation=alice.organisation.pk, id_number="110105491231002")
    response = client.post("/patients/new/", data, follow=True)
    patient = Patient.objects.get()
    assert patient.id_number == "11010519491231002X"
    assert (patient.sex, patient.birth_date) == ("female", date(1949, 12, 31))
    page = response.content.decode()
    assert "15位（一代）身份证号已转换为18位身份证号 110105********002X" in page
    again = client.post(
        "/patients/new/",
        enrol_form(organisation=alice.organisation.pk, name="王", id_number="11010519491231002X"),
    )
    assert 'data-testid="duplicate"' in again.content.decode()
    assert Patient.objects.count() == 1


def test_a_landline_typed_in_the_form_is_kept_and_the_page_says_no_sms_goes_to_it(
    alice: Any,
) -> None:
    client = logged_in(alice)
    data = enrol_form(
        organisation=alice.organisation.pk, phone="0755-1234 5678", **{"contacts-0-phone": ""}
    )
    response = client.post("/patients/new/", data, follow=True)
    patient = Patient.objects.get()
    assert (patient.phone, patient.phone_kind) == ("0755-12345678", "landline")
    page = response.content.decode()
    assert "0755-****5678" in page and "0755-12345678" not in page
    assert "座机：可电话随访和自动语音外呼，不发短信。" in page
    refused = client.post(
        "/patients/new/",
        enrol_form(organisation=alice.organisation.pk, name="王", id_number="", phone="62345678"),
    )
    assert 'id="id_phone_error"' in refused.content.decode()
    assert "区号" in refused.content.decode()


def test_the_patient_page_masks_and_audits(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation, phone="13712345678")
    response = logged_in(alice).get(f"/patients/{patient.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "137****5678" in page and "13712345678" not in page
    assert patient.id_number not in page
    assert 'data-testid="reveal-phone"' in page
    assert 'data-testid="reveal-id_number"' not in page  # nurses may not reveal ID numbers
    assert AuditEvent.objects.filter(actor=alice, action="view", patient_id=patient.pk).exists()


def test_the_address_shows_its_district_only_until_revealed(
    alice: Any, patient_factory: Any
) -> None:
    patient = patient_factory(
        organisation=alice.organisation, address="北京市东城区幸福路18号3单元"
    )
    page = logged_in(alice).get(f"/patients/{patient.pk}/").content.decode()
    assert "北京市东城区****" in page and "幸福路" not in page
    assert 'data-testid="reveal-address"' in page
    revealed = logged_in(alice).post(f"/patients/{patient.pk}/reveal/address/")
    assert "北京市东城区幸福路18号3单元" in revealed.content.decode()
    assert AuditEvent.objects.filter(actor=alice, action="reveal", summary="revealed address")


def test_reveal_returns_the_value_for_an_allowed_role_only(
    alice: Any, bob: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=alice.organisation)
    url = f"/patients/{patient.pk}/reveal/id_number/"
    assert logged_in(alice).post(url).status_code == 403
    response = logged_in(bob).post(url)
    assert patient.id_number in response.content.decode()
    assert AuditEvent.objects.filter(actor=bob, action="reveal").count() == 1
    assert logged_in(bob).get(url).status_code == 405


def test_record_numbers_are_masked_until_revealed(
    alice: Any, bob: Any, patient_factory: Any
) -> None:
    from careloop.patients.models import PatientIdentifier

    patient = patient_factory(organisation=alice.organisation)
    PatientIdentifier.objects.create(
        patient=patient, kind="mrn", system="LIS9", value="ZY2026000123"
    )
    page = logged_in(alice).get(f"/patients/{patient.pk}/").content.decode()
    assert "ZY********23" in page and "ZY2026000123" not in page
    assert 'data-testid="reveal-record_numbers"' not in page  # nurses may not reveal them
    url = f"/patients/{patient.pk}/reveal/record_numbers/"
    assert logged_in(alice).post(url).status_code == 403
    assert (
        'data-testid="reveal-record_numbers"'
        in logged_in(bob).get(f"/patients/{patient.pk}/").content.decode()
    )
    revealed = logged_in(bob).post(url).content.decode()
    assert "(LIS9): ZY2026000123" in revealed
    assert AuditEvent.objects.filter(actor=bob, summary="revealed record_numbers").count() == 1


def test_another_organisations_patient_is_not_found(
    dave: Any, patient_factory: Any, hospital: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    assert logged_in(dave).get(f"/patients/{patient.pk}/").status_code == 404


def test_list_search_and_pagination(alice: Any, patient_factory: Any) -> None:
    for _ in range(30):
        patient_factory(organisation=alice.organisation)
    target = patient_factory(organisation=alice.organisation, name="钱多多", phone="13600001111")
    client = logged_in(alice)
    first = client.get("/patients/").content.decode()
    assert "1–25" in first and 'rel="next"' in first
    found = client.get("/patients/", {"q": "136 0000 1111"}).content.decode()
    assert "钱多多" in found and target.formatted_card_number in found
    event = AuditEvent.objects.filter(actor=alice, action="search").get()
    assert "13600001111" not in event.summary


def test_a_list_filtered_by_an_organisation_id_too_long_to_be_one_is_empty(
    alice: Any, patient_factory: Any
) -> None:
    """?organisation= with 23 digits reached SQLite ("too large to convert"): a 500."""
    patient_factory(organisation=alice.organisation, name="钱多多")
    page = logged_in(alice).get("/patients/", {"organisation": "9" * 23})
    assert page.status_code == 200 and "钱多多" not in page.content.decode()


def test_edit_keeps_identifiers_left_blank(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation, phone="13712345678")
    client = logged_in(alice)
    page = client.get(f"/patients/{patient.pk}/edit/").content.decode()
    assert "13712345678" not in page and patient.id_number not in page
    data = enrol_form(
        name="新名字",
        id_number="",
        phone="",
        sex="male",
        birth_date="1960-05-01",
        organisation=alice.organisation.pk,
        **{"contacts-0-name": "", "contacts-0-phone": ""},
    )
    response = client.post(f"/patients/{patient.pk}/edit/", data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.name == "新名字"
    assert patient.phone == "13712345678"
    assert patient.id_number


def test_record_numbers_stay_hidden_in_the_edit_form_and_an_edit_keeps_the_others(
    alice: Any, patient_factory: Any
) -> None:
    from careloop.patients.models import PatientIdentifier

    patient = patient_factory(organisation=alice.organisation)
    for value in ("MZ2026001", "ZY2026002"):  # an outpatient and an inpatient number
        PatientIdentifier.objects.create(
            patient=patient, kind="mrn", system=alice.organisation.code, value=value
        )
    client = logged_in(alice)
    url = f"/patients/{patient.pk}/edit/"
    page = client.get(url).content.decode()
    assert "MZ2026001" not in page and "MZ*****01" in page
    data = enrol_form(
        name="新名字",
        id_number="",
        phone="",
        mrn="",
        sex="male",
        birth_date="1960-05-01",
        organisation=alice.organisation.pk,
        **{"contacts-0-name": "", "contacts-0-phone": ""},
    )
    assert client.post(url, data).status_code == 302
    numbers = PatientIdentifier.objects.filter(patient=patient)
    assert sorted(n.value for n in numbers) == ["MZ2026001", "ZY2026002"]
    # A number typed takes the first one's place; the inpatient number stays.
    assert client.post(url, {**data, "mrn": "MZ2026009"}).status_code == 302
    assert sorted(n.value for n in numbers.all()) == ["MZ2026009", "ZY2026002"]


def test_the_address_stays_masked_in_the_edit_form_and_blank_keeps_it(
    alice: Any, patient_factory: Any
) -> None:
    """Given a patient whose address the page shows down to its district until an audited
    reveal, when the edit form is opened, then it does not hold the address either (its
    masked value is the hint); left blank the address is kept, typed it is replaced."""
    patient = patient_factory(
        organisation=alice.organisation, address="北京市东城区幸福路18号3单元"
    )
    client = logged_in(alice)
    url = f"/patients/{patient.pk}/edit/"
    page = client.get(url).content.decode()
    assert "幸福路18号" not in page and "北京市东城区****" in page
    assert not AuditEvent.objects.filter(action="reveal", patient_id=patient.pk).exists()
    data = enrol_form(
        name="新名字",
        id_number="",
        phone="",
        address="",
        sex="male",
        birth_date="1960-05-01",
        organisation=alice.organisation.pk,
        **{"contacts-0-name": "", "contacts-0-phone": ""},
    )
    assert client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert (patient.name, patient.address) == ("新名字", "北京市东城区幸福路18号3单元")
    assert client.post(url, {**data, "address": "北京市西城区和平里2号"}).status_code == 302
    patient.refresh_from_db()
    assert patient.address == "北京市西城区和平里2号"


def test_a_diagnosis_is_named_from_the_icd10_catalogue(carol: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=carol.organisation)
    client = logged_in(carol)
    response = client.post(
        f"/patients/{patient.pk}/record/diagnosis/add/",
        {
            "icd10_code": "i10",
            "name": "",
            "clinical_status": "active",
            "onset_date": "2020-05-01",
            "note": "",
        },
    )
    assert response.status_code == 302
    condition = Condition.objects.get()
    assert (condition.icd10_code, condition.name) == ("I10", "原发性高血压")
    assert condition.recorded_by == carol
    bad = client.post(
        f"/patients/{patient.pk}/record/diagnosis/add/",
        {"icd10_code": "hypertension", "clinical_status": "active"},
    )
    assert "ICD-10" in bad.content.decode()
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "原发性高血压" in page
    delete = client.post(f"/patients/{patient.pk}/record/diagnosis/{condition.pk}/delete/")
    assert delete.status_code == 302
    assert not Condition.objects.exists()
    assert AuditEvent.objects.filter(action="delete", object_type="diagnosis").exists()


def test_a_new_record_entry_s_page_says_add_and_an_existing_one_s_change(
    carol: Any, patient_factory: Any
) -> None:
    """The form of a new entry was headed 修改：诊断 (Change), as an existing one's is."""
    patient = patient_factory(organisation=carol.organisation)
    client = logged_in(carol)
    new = client.get(f"/patients/{patient.pk}/record/diagnosis/add/").content.decode()
    assert "添加：诊断" in new and "修改：诊断" not in new
    condition = Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    url = f"/patients/{patient.pk}/record/diagnosis/{condition.pk}/"
    assert "修改：诊断" in client.get(url).content.decode()


def test_nurses_record_history_but_not_diagnoses(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation)
    client = logged_in(alice)
    assert client.get(f"/patients/{patient.pk}/record/diagnosis/add/").status_code == 403
    response = client.post(
        f"/patients/{patient.pk}/record/allergy/add/",
        {"substance": "青霉素", "reaction": "皮疹", "severity": "severe", "note": ""},
    )
    assert response.status_code == 302
    timeline = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "青霉素" in timeline


def test_lifestyle_and_consent_are_recorded(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation)
    client = logged_in(alice)
    client.post(
        f"/patients/{patient.pk}/lifestyle/",
        {
            "smoking": "current",
            "cigarettes_per_day": "10",
            "drinking": "never",
            "salt_intake": "heavy",
            "diet": "嗜盐",
        },
    )
    assert Lifestyle.objects.get(patient=patient).cigarettes_per_day == 10
    client.post(
        f"/patients/{patient.pk}/consents/",
        {
            "purpose": "followup",
            "channel": "wechat",
            "granted": "no",
            "method": "verbal",
            "note": "",
        },
    )
    consent = ConsentRecord.objects.get(patient=patient)
    assert consent.granted is False and consent.recorded_by == alice


@pytest.mark.parametrize("path", ["/", "/patients/", "/patients/new/", "/accounts/profile/"])
def test_staff_pages_render(alice: Any, path: str) -> None:
    response = logged_in(alice).get(path)
    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.content.decode()


def test_the_interface_is_available_in_english(alice: Any) -> None:
    client = logged_in(alice)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/patients/").content.decode()
    assert 'lang="en"' in page and "Enrol a patient" in page


def test_a_supervisor_shares_a_record_from_the_patient_page(
    bob: Any, dave: Any, community: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=bob.organisation)
    client = logged_in(bob)
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "和平社区卫生服务中心" in page  # offered as a share target
    client.post(
        f"/patients/{patient.pk}/shares/",
        {"organisation": community.pk, "can_edit": "on", "reason": "转诊"},
    )
    assert logged_in(dave).get(f"/patients/{patient.pk}/").status_code == 200
    share = patient.shares.get()
    assert share.can_edit and share.shared_by == bob
    client.post(f"/patients/{patient.pk}/shares/{share.pk}/delete/")
    assert logged_in(dave).get(f"/patients/{patient.pk}/").status_code == 404


def test_the_year_over_year_table_shows_each_value_in_the_rows_unit(
    alice: Any, patient_factory: Any
) -> None:
    """Creatinine sent as 2.0 mg/dL this year, 150 µmol/L last year: the row reads umol/L,
    so both cells show umol/L (176.8, not "2.0 mg/dL" beside a change of +26.8)."""
    from datetime import datetime

    from django.utils import timezone

    from careloop.clinical.models import Observation

    patient = patient_factory(organisation=alice.organisation)
    for year, value, unit, normalised in (
        (2025, 150.0, "umol/L", 150.0),
        (2026, 2.0, "mg/dL", 176.8),
    ):
        Observation.objects.create(
            patient=patient,
            code="2160-0",
            name="肌酐",
            value=value,
            unit=unit,
            value_normalised=normalised,
            unit_normalised="umol/L",
            interpretation="N",
            effective_at=timezone.make_aware(datetime(year, 6, 1, 9)),
        )
    html = logged_in(alice).get(f"/patients/{patient.pk}/").content.decode()
    table = html.split('data-testid="year-over-year"')[1].split("</table>")[0]
    assert "176.8 umol/L" in table and "150 umol/L" in table
    assert "mg/dL" not in table and "+26.8" in table


def test_a_withdrawn_result_is_neither_drawn_nor_compared(alice: Any, patient_factory: Any) -> None:
    """A sodium the laboratory withdrew (OBX-11 X with its value still sent) was drawn on the
    trend chart and shown as this year's value."""
    from datetime import datetime

    from django.utils import timezone

    from careloop.clinical.models import Observation
    from careloop.clinical.trends import indicators, series, year_over_year

    patient = patient_factory(organisation=alice.organisation)
    for day, value, status in ((1, 138.0, "final"), (2, 152.0, "cancelled")):
        Observation.objects.create(
            patient=patient,
            code="2951-2",
            name="钠",
            value=value,
            unit="mmol/L",
            interpretation="N",
            status=status,
            effective_at=timezone.make_aware(datetime(2026, 6, day, 9)),
        )
    assert [p["value"] for p in series(patient, "2951-2")["points"]] == [138.0]
    assert [(i.key, i.count) for i in indicators(patient)] == [("2951-2", 1)]
    _year, [row] = year_over_year(patient)
    assert row.this.value == 138.0
    html = logged_in(alice).get(f"/patients/{patient.pk}/").content.decode()
    table = html.split('data-testid="year-over-year"')[1].split("</table>")[0]
    assert "138" in table and "152" not in table


def test_sms_is_not_taken_as_the_preferred_channel_of_a_landline(alice: Any) -> None:
    """The page says a landline gets no SMS; the form took 短信 as its preferred channel."""
    client = logged_in(alice)
    data = enrol_form(
        organisation=alice.organisation.pk,
        phone="010-62345678",
        preferred_channel="sms",
        **{"contacts-0-phone": ""},
    )
    refused = client.post("/patients/new/", data).content.decode()
    assert 'id="id_preferred_channel_error"' in refused
    assert "座机收不到短信：请选择电话或智能语音外呼。" in refused
    assert not Patient.objects.exists()
    data |= {"phone": "010-62345678转123", "preferred_channel": "voice"}
    assert "智能语音外呼无法拨打分机" in client.post("/patients/new/", data).content.decode()
    data |= {"preferred_channel": "phone"}
    assert client.post("/patients/new/", data).status_code == 302
    patient = Patient.objects.get()
    edit = enrol_form(
        id_number="",
        phone="",  # kept: the landline
        sex="male",
        birth_date="1960-05-01",
        organisation=alice.organisation.pk,
        preferred_channel="sms",
        **{"contacts-0-name": "", "contacts-0-phone": ""},
    )
    page = client.post(f"/patients/{patient.pk}/edit/", edit).content.decode()
    assert "座机收不到短信" in page
    patient.refresh_from_db()
    assert patient.preferred_channel == "phone"

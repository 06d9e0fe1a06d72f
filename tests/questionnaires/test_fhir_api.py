"""Questionnaire and QuestionnaireResponse at /fhir/R4 over real HTTP: read and search the
questionnaires, import one (a new version), answer one (scored, flagged, scoped to the
token's patients), wrong answers named by linkId."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from fhir.resources.R4B.bundle import Bundle

from careloop.accounts.tokens import do_create_token
from careloop.followup.models import Alert
from careloop.questionnaires.models import Questionnaire, QuestionnaireResponse
from careloop.questionnaires.services import load_pack
from tests.test_fhir import Fhir

pytestmark = pytest.mark.django_db(transaction=True)
GAD7 = "urn:careloop:questionnaire:gad7"


@pytest.fixture
def fhir(live_server: Any, carol: Any) -> Fhir:
    load_pack()
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


def gad7_answers(*scores: int) -> list[dict[str, Any]]:
    return [
        {"linkId": f"q{n}", "answer": [{"valueCoding": {"code": str(s)}}]}
        for n, s in enumerate(scores, start=1)
    ]


def gad7_response(patient: Any, *scores: int) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": GAD7,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient.pk}"},
        "item": gad7_answers(*scores),
    }


def gad7_retitled(fhir: Fhir) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shipped GAD-7 as served, and the same with a new title."""
    _status, current, _ = fhir.call("GET", f"/Questionnaire?url={GAD7}")
    resource = current["entry"][0]["resource"]
    return resource, {**resource, "title": "GAD-7 焦虑自评"}


def test_read_and_search_questionnaires(fhir: Fhir) -> None:
    status, bundle, _ = fhir.call("GET", f"/Questionnaire?url={GAD7}")
    assert status == 200
    Bundle.model_validate(bundle)
    [entry] = bundle["entry"]
    resource = entry["resource"]
    assert resource["url"] == GAD7 and resource["version"] == "1"
    status, same, _ = fhir.call("GET", f"/Questionnaire/{resource['id']}")
    assert status == 200 and same["title"] == "GAD-7 焦虑症筛查量表"
    status, shipped, _ = fhir.call("GET", "/Questionnaire?status=active")
    assert shipped["total"] == 5
    assert fhir.call("GET", "/Questionnaire?status=retired,draft")[1]["total"] == 0
    status, outcome, _ = fhir.call("GET", "/Questionnaire?status=bogus")  # as Task?status=
    assert status == 400 and "bogus" in outcome["issue"][0]["diagnostics"]


def test_an_answer_is_scored_flagged_and_readable(
    fhir: Fhir, cardiology: Any, patient_factory: Any, community: Any
) -> None:
    patient = patient_factory(organisation=cardiology)
    body = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{GAD7}|1",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient.pk}"},
        "item": gad7_answers(3, 3, 2, 2, 2, 2, 1),
    }
    status, created, _headers = fhir.call("POST", "/QuestionnaireResponse", body)
    assert status == 201, created
    stored = QuestionnaireResponse.objects.get()
    assert (stored.total, stored.band, stored.source) == (15, "重度焦虑", "fhir")
    assert Alert.objects.get(patient=patient).severity == Alert.Severity.HIGH
    status, read, _ = fhir.call("GET", f"/QuestionnaireResponse/{stored.pk}")
    assert read["questionnaire"] == f"{GAD7}|1"
    assert read["item"][0]["answer"] == [{"valueCoding": {"code": "3", "display": "几乎每天"}}]
    status, found, _ = fhir.call(
        "GET", f"/QuestionnaireResponse?patient={patient.pk}&questionnaire={GAD7}"
    )
    assert found["total"] == 1
    theirs = patient_factory(organisation=community)
    status, refused, _ = fhir.call(
        "POST", "/QuestionnaireResponse", {**body, "subject": {"reference": f"Patient/{theirs.pk}"}}
    )
    assert status == 422 and "is not known" in refused["issue"][0]["diagnostics"]


def test_wrong_answers_are_named_by_link_id(
    fhir: Fhir, cardiology: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=cardiology)
    body = gad7_response(patient, 9, 0, 0, 0, 0, 0)
    status, outcome, _ = fhir.call("POST", "/QuestionnaireResponse", body)
    assert status == 422
    problems = {i["diagnostics"] for i in outcome["issue"]}
    assert problems == {"q1: 不是可选的答案", "q7: 必答题"}
    assert not QuestionnaireResponse.objects.exists()
    status, outcome, _ = fhir.call(
        "POST", "/QuestionnaireResponse", {**body, "questionnaire": "urn:careloop:questionnaire:x"}
    )
    assert status == 422 and "is not a questionnaire here" in outcome["issue"][0]["diagnostics"]


def test_importing_a_questionnaire_needs_the_permission_and_saves_a_version(
    fhir: Fhir, carol: Any, cardiology: Any
) -> None:
    Questionnaire.objects.filter(code="gad7").update(organisation=cardiology)  # carol's own
    resource, changed = gad7_retitled(fhir)
    status, _refused, _ = fhir.call("PUT", f"/Questionnaire/{resource['id']}", changed)
    assert status == 403
    carol.user_permissions.add(Permission.objects.get(codename="change_questionnaire"))
    status, saved, _ = fhir.call("PUT", f"/Questionnaire/{resource['id']}", changed)
    assert status == 200, saved
    row = Questionnaire.objects.get(code="gad7")
    assert (row.version, row.title) == (2, "GAD-7 焦虑自评")
    wrong = {**changed, "item": [{"linkId": "a", "type": "attachment", "text": "x"}]}
    status, outcome, _ = fhir.call("POST", "/Questionnaire", wrong)
    assert status == 422 and outcome["issue"][0]["expression"] == ["Questionnaire.item[0].type"]


def test_a_bundle_updates_a_questionnaire_and_refuses_without_the_permission(
    fhir: Fhir, carol: Any, cardiology: Any
) -> None:
    # A Questionnaire has no patient: updating it in a Bundle holds none.
    Questionnaire.objects.filter(code="gad7").update(organisation=cardiology)  # carol's own
    resource, changed = gad7_retitled(fhir)
    entry = {
        "resource": changed,
        "request": {"method": "PUT", "url": f"Questionnaire/{resource['id']}"},
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    status, refused, _ = fhir.call("POST", "", bundle)
    assert status == 403, refused
    assert refused["issue"][0]["expression"] == ["Bundle.entry[0]"]  # named by its entry
    carol.user_permissions.add(Permission.objects.get(codename="change_questionnaire"))
    status, answer, _ = fhir.call("POST", "", bundle)
    assert status == 200, answer
    assert answer["entry"][0]["response"]["status"] == "200 OK"
    assert Questionnaire.objects.get(code="gad7").version == 2


def test_an_answer_to_another_organisations_questionnaire_is_refused(
    fhir: Fhir, cardiology: Any, community: Any, patient_factory: Any
) -> None:
    """A QuestionnaireResponse found its questionnaire by URL whoever it belonged to."""
    Questionnaire.objects.filter(code="gad7").update(organisation=community)
    patient = patient_factory(organisation=cardiology)
    status, outcome, _ = fhir.call(
        "POST", "/QuestionnaireResponse", gad7_response(patient, 0, 0, 0, 0, 0, 0, 0)
    )
    assert status == 422 and "is not a questionnaire here" in outcome["issue"][0]["diagnostics"]
    assert not QuestionnaireResponse.objects.exists()
    Questionnaire.objects.filter(code="gad7").update(organisation=cardiology)
    status, _saved, _ = fhir.call(
        "POST", "/QuestionnaireResponse", gad7_response(patient, 0, 0, 0, 0, 0, 0, 0)
    )
    assert status == 201 and QuestionnaireResponse.objects.count() == 1


def test_a_questionnaire_for_every_organisation_is_not_changed_by_one_departments_staff(
    fhir: Fhir, carol: Any, community: Any
) -> None:
    """Any supervisor anywhere could change the shipped GAD-7 every organisation uses."""
    carol.user_permissions.add(Permission.objects.get(codename="change_questionnaire"))
    resource, changed = gad7_retitled(fhir)
    status, refused, _ = fhir.call("PUT", f"/Questionnaire/{resource['id']}", changed)
    assert status == 403 and "only its own staff" in refused["issue"][0]["diagnostics"]
    # Posted as new under the same canonical URL, it is the same questionnaire: refused too.
    status, refused, _ = fhir.call("POST", "/Questionnaire", {**changed, "id": None})
    assert status == 403
    assert Questionnaire.objects.get(code="gad7").version == 1
    # Nor is another organisation's seen at all.
    Questionnaire.objects.filter(code="gad7").update(organisation=community)
    status, found, _ = fhir.call("GET", f"/Questionnaire?url={GAD7}")
    assert status == 200 and found["total"] == 0
    status, _missing, _ = fhir.call("GET", f"/Questionnaire/{resource['id']}")
    assert status == 404


def test_an_answer_keeps_when_it_was_authored_and_names_items_not_asked(
    fhir: Fhir, cardiology: Any, patient_factory: Any
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    patient = patient_factory(organisation=cardiology)
    body = gad7_response(patient, 0, 0, 0, 0, 0, 0, 0) | {"authored": "2026-12-01T10:00:00+08:00"}
    status, made, _ = fhir.call("POST", "/QuestionnaireResponse", body)
    assert status == 201, made
    stored = QuestionnaireResponse.objects.get()
    assert stored.submitted_at == datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert made["authored"].startswith("2026-12-01T")
    future = {**body, "authored": "2030-01-01T10:00:00+08:00"}
    status, outcome, _ = fhir.call("POST", "/QuestionnaireResponse", future)
    assert status == 422 and "in the future" in outcome["issue"][0]["diagnostics"]
    stray = {**body, "item": [*body["item"], {"linkId": "q99", "answer": [{"valueInteger": 1}]}]}
    status, outcome, _ = fhir.call("POST", "/QuestionnaireResponse", stray)
    assert status == 422 and "q99" in outcome["issue"][0]["diagnostics"]
    assert QuestionnaireResponse.objects.count() == 1


AUDIT = "https://audit.example/Questionnaire/a1"


def audit_questionnaire(version: str = "1.0", text: str = "今天头痛吗？", **more: Any) -> dict:
    return {
        "resourceType": "Questionnaire",
        "url": AUDIT,
        "version": version,
        "name": "audit_a1",
        "title": "头痛随访",
        "status": "active",
        "item": [
            {
                "linkId": "q1",
                "text": text,
                "type": "choice",
                "required": True,
                "answerOption": [
                    {"valueCoding": {"code": "yes", "display": "有"}},
                    {"valueCoding": {"code": "no", "display": "没有"}},
                ],
            }
        ],
        **more,
    }


def answered(patient: Any, questionnaire: str) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient.pk}"},
        "item": [{"linkId": "q1", "answer": [{"valueCoding": {"code": "no"}}]}],
    }


def test_an_imported_questionnaire_keeps_its_canonical_url_and_version(
    fhir: Fhir, carol: Any, cardiology: Any, patient_factory: Any
) -> None:
    carol.user_permissions.add(Permission.objects.get(codename="change_questionnaire"))
    status, made, _ = fhir.call("POST", "/Questionnaire", audit_questionnaire())
    assert status == 201, made
    assert (made["url"], made["version"]) == (AUDIT, "1.0")
    row = Questionnaire.objects.get(url=AUDIT)
    assert row.code == "audit-a1" and row.latest().label == "1.0"
    status, found, _ = fhir.call("GET", f"/Questionnaire?url={quote(AUDIT)}")
    assert status == 200 and found["total"] == 1
    assert found["entry"][0]["resource"]["url"] == AUDIT
    assert fhir.call("GET", f"/Questionnaire?url={quote(AUDIT + '|1.0')}")[1]["total"] == 1
    assert fhir.call("GET", f"/Questionnaire?url={quote(AUDIT + '|2.0')}")[1]["total"] == 0
    assert fhir.call("GET", f"/Questionnaire?url={quote(GAD7)}")[1]["total"] == 1  # ours too

    patient = patient_factory(organisation=cardiology)
    for reference in (AUDIT, f"{AUDIT}|1.0"):
        status, response, _ = fhir.call(
            "POST", "/QuestionnaireResponse", answered(patient, reference)
        )
        assert status == 201, response
        assert response["questionnaire"] == f"{AUDIT}|1.0"
    status, outcome, _ = fhir.call(
        "POST", "/QuestionnaireResponse", answered(patient, f"{AUDIT}|9.9")
    )
    assert status == 422 and "is not a questionnaire here" in outcome["issue"][0]["diagnostics"]
    search = f"/QuestionnaireResponse?questionnaire={quote(AUDIT)}"
    assert fhir.call("GET", search)[1]["total"] == 2

    # The same URL again is a new version of the same questionnaire, whatever its name...
    status, made, _ = fhir.call(
        "POST", "/Questionnaire", audit_questionnaire("1.1", "头痛加重了吗？", name="renamed")
    )
    assert status == 201, made
    row.refresh_from_db()
    assert (row.code, row.version, made["version"]) == ("audit-a1", 2, "1.1")
    assert Questionnaire.objects.filter(url=AUDIT).count() == 1
    assert fhir.call("GET", search + quote("|1.0"))[1]["total"] == 2  # answered before 1.1
    # ... the same version again with the same questions changes nothing, with others is 409.
    assert fhir.call("POST", "/Questionnaire", audit_questionnaire("1.1", "头痛加重了吗？"))[0] in (
        200,
        201,
    )
    assert row.versions.count() == 2
    status, outcome, _ = fhir.call("POST", "/Questionnaire", audit_questionnaire("1.0", "改了"))
    assert status == 409 and outcome["issue"][0]["expression"] == ["Questionnaire.version"]
    # A code taken by another questionnaire (ours) is 409, not a new version of ours.
    other = audit_questionnaire(url="https://elsewhere.example/Questionnaire/gad7", name="gad7")
    status, outcome, _ = fhir.call("POST", "/Questionnaire", other)
    assert status == 409 and outcome["issue"][0]["expression"] == ["Questionnaire.name"]
    gad7 = Questionnaire.objects.get(code="gad7")
    assert (gad7.version, gad7.url) == (1, "")
    # A questionnaire keeps its URL.
    resource, _changed = gad7_retitled(fhir)
    status, outcome, _ = fhir.call(
        "PUT", f"/Questionnaire/{resource['id']}", {**resource, "url": AUDIT}
    )
    assert status == 409 and outcome["issue"][0]["expression"] == ["Questionnaire.url"]
    assert "问卷的 URL 不变" in outcome["issue"][0]["diagnostics"]  # the default language
    status, outcome, _ = fhir.call(
        "PUT",
        f"/Questionnaire/{resource['id']}",
        {**resource, "url": AUDIT},
        headers={"Accept-Language": "en"},
    )
    assert status == 409
    assert "a questionnaire keeps its URL" in outcome["issue"][0]["diagnostics"]
    assert Questionnaire.objects.get(code="gad7").version == 1


def test_a_wrong_questionnaire_is_named_by_its_fhir_path(fhir: Fhir, carol: Any) -> None:
    carol.user_permissions.add(Permission.objects.get(codename="change_questionnaire"))
    bogus = {"resourceType": "Questionnaire", "name": "x", "status": "bogus"}
    status, outcome, _ = fhir.call("POST", "/Questionnaire", bogus)
    assert status == 422 and outcome["issue"][0]["expression"] == ["Questionnaire.status"]
    assert "bogus" in outcome["issue"][0]["diagnostics"]
    status, outcome, _ = fhir.call("POST", "/Questionnaire", {**bogus, "status": "draft"})
    assert status == 422 and outcome["issue"][0]["expression"] == ["Questionnaire.item"]
    assert outcome["issue"][0]["diagnostics"].startswith("Questionnaire.item:")
    no_option = audit_questionnaire()
    no_option["item"][0]["answerOption"] = []
    status, outcome, _ = fhir.call("POST", "/Questionnaire", no_option)
    assert status == 422
    assert outcome["issue"][0]["expression"][0].startswith("Questionnaire.item[0].answerOption")
    assert not Questionnaire.objects.filter(code__in=("x", "audit-a1")).exists()


def test_answers_and_questionnaires_in_a_bundle_are_stored(fhir: Fhir, carol: Any) -> None:
    """A QuestionnaireResponse or a Questionnaire POSTed in a transaction or batch Bundle
    was answered 500 with an HTML page and nothing stored (the Bundle created only patients,
    visits, diagnoses and results); answers of a patient the same Bundle enrols are stored."""
    from tests.test_fhir import patient_resource

    new = "urn:uuid:5b0c2e1a-8f0e-4c1d-9c55-2a7d0b1e6f31"
    answers = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": GAD7,
        "status": "completed",
        "subject": {"reference": new},
        "item": gad7_answers(1, 1, 1, 1, 1, 1, 1),
    }
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": answers,
                "request": {"method": "POST", "url": "QuestionnaireResponse"},
            },
            {
                "fullUrl": new,
                "resource": patient_resource(),
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    status, body, _ = fhir.call("POST", "/", transaction)
    assert status == 200, body
    assert body["entry"][0]["response"]["status"] == "201 Created"
    stored = QuestionnaireResponse.objects.get()
    assert body["entry"][0]["response"]["location"] == f"QuestionnaireResponse/{stored.pk}"
    assert f"Patient/{stored.patient_id}" == body["entry"][1]["response"]["location"]

    imported = {
        "resourceType": "Questionnaire",
        "url": "http://hospital.example/fhir/Questionnaire/pain",
        "version": "1",
        "name": "pain",
        "status": "active",
        "item": [{"linkId": "p1", "text": "疼痛程度", "type": "integer"}],
    }
    again = answers | {
        "subject": {"reference": f"Patient/{stored.patient_id}"},
        "item": gad7_answers(0, 0, 0, 0, 0, 0, 0),
    }
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": imported, "request": {"method": "POST", "url": "Questionnaire"}},
            {"resource": again, "request": {"method": "POST", "url": "QuestionnaireResponse"}},
        ],
    }
    status, body, _ = fhir.call("POST", "/", batch)
    assert status == 200, body  # each entry answered: carol may not save questionnaires
    assert [e["response"]["status"] for e in body["entry"]] == ["403 Forbidden", "201 Created"]
    assert QuestionnaireResponse.objects.count() == 2
    carol.user_permissions.add(Permission.objects.get(codename="change_questionnaire"))
    status, body, _ = fhir.call("POST", "/", batch | {"entry": batch["entry"][:1]})
    assert status == 200, body
    assert body["entry"][0]["response"]["status"] == "201 Created"
    assert Questionnaire.objects.filter(url=imported["url"]).exists()


def test_answers_are_searched_by_the_questionnaire_read_here(
    fhir: Fhir, cardiology: Any, patient_factory: Any
) -> None:
    """QuestionnaireResponse?questionnaire=Questionnaire/2 (the reference to the
    Questionnaire a client read here) matched nothing: only its canonical URL was matched."""
    patient = patient_factory(organisation=cardiology)
    status, body, _ = fhir.call("POST", "/QuestionnaireResponse", gad7_response(patient, *[0] * 7))
    assert status == 201, body
    gad7 = Questionnaire.objects.get(code="gad7")
    phq9 = Questionnaire.objects.get(code="phq9")
    for reference in (f"Questionnaire/{gad7.pk}", f"{fhir.base}/Questionnaire/{gad7.pk}", GAD7):
        status, bundle, _ = fhir.call("GET", f"/QuestionnaireResponse?questionnaire={reference}")
        assert status == 200 and bundle["total"] == 1, reference
    status, bundle, _ = fhir.call(
        "GET", f"/QuestionnaireResponse?questionnaire=Questionnaire/{phq9.pk}"
    )
    assert status == 200 and bundle["total"] == 0

"""What an integrator holding a token meets on /api/v1/ as a whole: the lists show what the
user can open and page alike, every answer is JSON in the one error format (F17, F19)."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.followup.models import Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.patients.models import PatientShare
from careloop.patients.services import do_update_patient
from tests.factories import OrganisationFactory
from tests.test_followup_web import programme  # noqa: F401 (a fixture)


def _listed(api: Any, path: str, **params: Any) -> set[int]:
    response = api.get(path, {"page_size": 200, **params})
    assert response.status_code == 200, response.content
    return {item["patient"] for item in response.json()["results"]}


def test_the_task_list_shows_the_tasks_of_the_patients_the_user_can_open(
    programme: Task,  # noqa: F811
    hospital: Any,
    carol: Any,
    bob: Any,
    dave: Any,
    community: Any,
    api_as: Any,
) -> None:
    patient = programme.patient
    do_record_attempt(programme, carol, Attempt(outcome="refused"))  # a closed task
    # Moved to another department: Carol (cardiology) may no longer open the patient, and
    # the task she closed stays with cardiology. It was still listed to her, with its
    # patient's id, outcome and due time (the unfiltered list went by the task's organisation).
    endocrinology = OrganisationFactory(code="H1-ENDO", kind="department", parent=hospital)
    do_update_patient(bob, patient, {"organisation": endocrinology.pk})
    carols = api_as(carol)
    assert carols.get(f"/api/v1/patients/{patient.pk}").status_code == 404
    assert carols.get("/api/v1/tasks", {"patient": patient.pk}).status_code == 404
    assert patient.pk not in _listed(carols, "/api/v1/tasks")
    assert patient.pk in _listed(api_as(bob), "/api/v1/tasks")
    # Shared with the community centre: its staff open the patient, and their task list
    # shows its tasks as the alert list shows its alerts (only ?patient= showed them).
    PatientShare.objects.create(patient=patient, organisation=community)
    daves = api_as(dave)
    assert daves.get("/api/v1/tasks", {"patient": patient.pk}).json()["count"] >= 1
    assert patient.pk in _listed(daves, "/api/v1/tasks")


def test_an_address_or_a_method_the_api_does_not_have_is_answered_in_json(
    programme: Task,  # noqa: F811
    carol: Any,
    dave: Any,
    api_as: Any,
) -> None:
    api = api_as(carol)
    for path in ("/api/v1/task", f"/api/v1/tasks/{programme.pk}", "/api/v1/tasks/", "/api/v2/"):
        response = api.get(path)  # was the staff site's HTML "page not found"
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path
        assert "openapi.json" in response.json()["detail"]
    not_allowed = api.client.delete("/api/v1/tasks", **api.headers)  # was text, not JSON
    assert not_allowed.status_code == 405
    assert not_allowed["Content-Type"].startswith("application/json")
    assert not_allowed["Allow"] == "GET" and "DELETE" in not_allowed.json()["detail"]
    # An object not found, or another organisation's, in the same format, the same words.
    unknown = api.post("/api/v1/tasks/999999/outcome", {"outcome": "busy"})
    others = api_as(dave).post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "busy"})
    assert unknown.status_code == others.status_code == 404
    assert unknown.json() == others.json()
    assert unknown.json()["errors"] == [] and unknown.json()["detail"] != "Not Found"


def test_the_task_and_alert_lists_link_their_pages_as_the_patient_list(
    hospital: Any, patient_factory: Any, alice: Any, api_as: Any
) -> None:
    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert

    patient = patient_factory(organisation=hospital)
    for number in range(5):
        raise_alert(patient, kind=Alert.Kind.RULE, severity="high", title=f"#{number}", reason="")
        Task.objects.create(
            patient=patient,
            organisation=hospital,
            title=f"#{number}",
            purpose="condition_tracking",
            due_at=patient.created_at,
            deadline=patient.created_at,
            channel="phone",
        )
    api = api_as(alice)
    for path in ("/api/v1/tasks", "/api/v1/alerts"):
        query = {"patient": patient.pk, "status": "open", "page_size": 2}
        first = api.get(path, query).json()
        assert (first["count"], first["previous"]) == (5, None)
        # Followed to the end, with the filters kept: every item once, then no next page.
        seen, address = [i["id"] for i in first["results"]], first["next"]
        while address:
            assert f"patient={patient.pk}" in address and "status=open" in address
            page = api.get(address).json()
            assert page["previous"] and page["count"] == 5
            seen += [i["id"] for i in page["results"]]
            address = page["next"]
        assert len(seen) == len(set(seen)) == 5, path
        past = api.get(path, {**query, "page": 9}).json()
        assert (past["results"], past["next"], past["previous"]) == ([], None, None)


def test_each_refusal_of_a_value_names_its_field(
    programme: Task,  # noqa: F811
    carol: Any,
    api_as: Any,
) -> None:
    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert

    api = api_as(carol)
    alert = raise_alert(
        programme.patient, kind=Alert.Kind.RULE, severity="high", title="高", reason=""
    )
    transition = f"/api/v1/alerts/{alert.pk}/transition"
    api.post(transition, {"action": "start"})
    refusals = {
        "status": [api.get("/api/v1/tasks", {"status": "late"})],
        "outcome": [api.post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "gone"})],
        "action": [api.post(transition, {"action": "fly"})],
        "assignee": [api.post(transition, {"action": "assign", "assignee": "nobody"})],
        "resolution": [api.post(transition, {"action": "resolve", "outcome": "已电话随访"})],
        "note": [api.post(transition, {"action": "note", "note": " "})],
    }
    refusals["status"].append(api.get("/api/v1/alerts", {"status": "late"}))
    for field, responses in refusals.items():
        for response in responses:  # the errors list was empty: only the sentence said it
            assert response.status_code == 422, field
            body = response.json()
            assert [e["field"] for e in body["errors"]] == [field], body
            assert body["detail"] == body["errors"][0]["message"]


def test_a_fault_of_the_server_is_answered_in_json_and_logged(
    alice: Any, api_as: Any, monkeypatch: Any, caplog: Any
) -> None:
    import careloop.api  # noqa: F401 (loads the routers first)
    import careloop.followup.api as alerts_api

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(alerts_api, "patients_for", broken)
    api = api_as(alice)
    api.client.raise_request_exception = False  # as a real server: answered, not raised
    response = api.get("/api/v1/alerts")
    assert response.status_code == 500  # was Django's HTML error page
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"] == [] and "a bug" not in response.json()["detail"]
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


def test_assigning_an_alert_to_no_one_names_the_assignee_missing(
    alert_on_alices_patient: Any, alice: Any, api_as: Any
) -> None:
    path = f"/api/v1/alerts/{alert_on_alices_patient.pk}/transition"
    response = api_as(alice).post(path, {"action": "assign"})
    assert response.status_code == 422  # was 403, as if a nurse might not assign (to herself)
    assert [e["field"] for e in response.json()["errors"]] == ["assignee"]
    assert api_as(alice).post(path, {"action": "assign", "assignee": "me"}).status_code == 200


@pytest.fixture
def alert_on_alices_patient(hospital: Any, patient_factory: Any) -> Any:
    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert

    patient = patient_factory(organisation=hospital)
    return raise_alert(patient, kind=Alert.Kind.RULE, severity="high", title="高", reason="")

"""What an integrator holding a token meets on /api/v1/ as a whole: the lists show what the
user can open and page alike, every answer is JSON in the one error format (F17, F19)."""

from __future__ import annotations

from typing import Any

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

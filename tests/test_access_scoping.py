"""Staff of one organisation neither read nor change what is another's: writes through a
read-only share, other organisations' pathways, records and counts (F16, F19)."""

from __future__ import annotations

from typing import Any

from careloop.followup.models import FollowUpRecord, Task
from careloop.patients.models import PatientShare
from tests.test_followup_web import programme  # noqa: F401 (a fixture)
from tests.test_patients_web import logged_in


def _share(task: Task, organisation: Any, *, can_edit: bool = False) -> None:
    PatientShare.objects.create(patient=task.patient, organisation=organisation, can_edit=can_edit)


def test_given_a_read_only_share_when_recording_a_follow_up_then_refused(
    programme: Task,  # noqa: F811
    dave: Any,
    community: Any,
    api_as: Any,
) -> None:
    _share(programme, community)
    nurse = logged_in(dave)
    page = nurse.get(f"/worklist/tasks/{programme.pk}/")
    assert page.status_code == 200  # the share lets the community centre read the task
    assert page.context["can_record"] is False
    posted = nurse.post(f"/worklist/tasks/{programme.pk}/", {"outcome": "deceased"})
    assert posted.status_code == 403
    by_api = api_as(dave).post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "refused"})
    assert by_api.status_code == 403
    programme.refresh_from_db()
    assert (programme.status, programme.attempts) == (Task.Status.OPEN, 0)
    assert not FollowUpRecord.objects.filter(task=programme).exists()


def test_given_an_editable_share_when_recording_a_follow_up_then_recorded(
    programme: Task,  # noqa: F811
    dave: Any,
    community: Any,
    api_as: Any,
) -> None:
    _share(programme, community, can_edit=True)
    assert logged_in(dave).get(f"/worklist/tasks/{programme.pk}/").context["can_record"] is True
    by_api = api_as(dave).post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "busy"})
    assert by_api.status_code == 201
    programme.refresh_from_db()
    assert programme.attempts == 1

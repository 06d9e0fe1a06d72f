"""FHIR Task, CarePlan and Flag (follow-up tasks, plans and alerts) at /fhir/R4 over real HTTP:
read and search only, scoped to the patients the token's user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan as FhirCarePlan
from fhir.resources.R4B.flag import Flag as FhirFlag
from fhir.resources.R4B.task import Task as FhirTask

from careloop.accounts.tokens import do_create_token
from careloop.audit.models import AuditEvent
from careloop.followup.models import Alert, FollowUpRecord, Outcome, Pathway, Plan, Task
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol, stop_plan
from careloop.followup.services import raise_alert
from careloop.interop.models import InboundMessage
from tests.factories import UserFactory
from tests.test_fhir import Fhir

pytestmark = pytest.mark.django_db(transaction=True)
KIND = "https://careloop.dev/fhir/CodeSystem/alert-kind"
SEVERITY = "https://careloop.dev/fhir/CodeSystem/alert-severity"


@pytest.fixture
def fhir(live_server: Any, carol: Any) -> Fhir:
    """Carol, a doctor in cardiology, with a token (as in tests/test_fhir.py)."""
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


@dataclass
class World:
    patient: Any  # Carol's (cardiology)
    plan: Plan
    theirs: Any  # the community centre's
    their_plan: Plan
    their_alert: Alert


@pytest.fixture
def world(cardiology: Any, community: Any, patient_factory: Any, carol: Any) -> World:
    load_pack()
    post_op = Pathway.objects.get(code="post-op")
    patient = patient_factory(name="周建华", organisation=cardiology, responsible_doctor=carol)
    plan = enrol(
        patient,
        post_op,
        trigger="manual",
        reason="胆囊切除术后",
        anchor=timezone.now() - timedelta(days=2),
    )
    theirs = patient_factory(name="吴其他", organisation=community)
    their_plan = enrol(theirs, post_op, trigger="manual")
    assert plan is not None and their_plan is not None
    assert plan.tasks.count() >= 3 and their_plan.tasks.exists()
    their_alert = raise_alert(theirs, kind="rule", severity="high", title="血压过高", reason="测试")
    return World(patient, plan, theirs, their_plan, their_alert)


def ids(bundle: dict[str, Any]) -> list[int]:
    return [int(e["resource"]["id"]) for e in bundle.get("entry", [])]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def page_through(fhir: Fhir, path: str) -> tuple[list[dict[str, Any]], int]:
    """Every searchset page from ``path`` on, each checked as an R4 Bundle; and the pages."""
    pages = 0
    entries: list[dict[str, Any]] = []
    url: str | None = path
    while url is not None:
        status, page, _ = fhir.call("GET", url)
        assert status == 200, page
        Bundle.model_validate(page)
        pages += 1
        entries += page.get("entry", [])
        url = next(
            (
                link["url"].split("/fhir/R4", 1)[1]
                for link in page["link"]
                if link["relation"] == "next"
            ),
            None,
        )
    return entries, pages


# ------------------------------------------------------------------------------------ Task


def test_read_a_task(fhir: Fhir, world: World, carol: Any) -> None:
    task = world.plan.tasks.order_by("due_at", "pk").first()
    assert task is not None
    Task.objects.filter(pk=task.pk).update(assignee=carol)
    status, body, headers = fhir.call("GET", f"/Task/{task.pk}")
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/fhir+json")
    FhirTask.model_validate(body)
    assert body["id"] == str(task.pk) and body["status"] == "requested"
    assert body["intent"] == "plan"
    assert body["for"] == {"reference": f"Patient/{world.patient.pk}"}
    assert body["basedOn"] == [{"reference": f"CarePlan/{world.plan.pk}"}]
    assert body["description"] == task.title
    assert body["code"]["text"] == task.get_purpose_display()
    assert body["code"]["coding"][0]["code"] == task.purpose
    assert moment(body["executionPeriod"]["start"]) == task.due_at
    assert moment(body["executionPeriod"]["end"]) == task.deadline
    assert moment(body["restriction"]["period"]["end"]) == task.deadline
    assert moment(body["lastModified"]) == task.created_at
    assert body["owner"] == {"type": "Practitioner", "display": "carol"}
    assert "businessStatus" not in body
    text = str(body)
    assert carol.display_name not in text and world.patient.name not in text  # no names
    viewed = AuditEvent.objects.get(action="view", object_type="task")
    assert viewed.object_id == str(task.pk) and viewed.patient_id == world.patient.pk


def test_a_closed_task_has_its_outcome_and_last_change(fhir: Fhir, world: World) -> None:
    task = world.plan.tasks.order_by("due_at", "pk").first()
    assert task is not None
    tried = task.created_at + timedelta(hours=1)
    closed = task.created_at + timedelta(hours=2)
    FollowUpRecord.objects.create(
        task=task, patient=world.patient, channel="phone", outcome="no_answer", at=tried
    )
    body = fhir.call("GET", f"/Task/{task.pk}")[1]
    assert body["status"] == "requested" and "businessStatus" not in body
    assert moment(body["lastModified"]) == tried  # an attempt changes it
    Task.objects.filter(pk=task.pk).update(status="done", outcome="reached", closed_at=closed)
    body = fhir.call("GET", f"/Task/{task.pk}")[1]
    FhirTask.model_validate(body)
    assert body["status"] == "completed"
    assert body["businessStatus"]["coding"][0]["code"] == "reached"
    assert body["businessStatus"]["text"] == str(Outcome.REACHED.label)
    assert moment(body["lastModified"]) == closed
    assert "owner" not in body  # nobody assigned


def test_search_tasks_by_patient_and_status_with_paging(fhir: Fhir, world: World) -> None:
    mine = list(world.plan.tasks.order_by("pk").values_list("pk", flat=True))
    done, failed = mine[0], mine[1]
    Task.objects.filter(pk=done).update(status="done", outcome="reached")
    Task.objects.filter(pk=failed).update(status="failed", outcome="no_answer")
    status, first, _ = fhir.call("GET", f"/Task?patient={world.patient.pk}&_count=2")
    assert status == 200
    Bundle.model_validate(first)
    assert first["type"] == "searchset" and first["total"] == len(mine)
    assert len(first["entry"]) == 2
    assert {link["relation"] for link in first["link"]} == {"self", "next"}
    for entry in first["entry"]:
        FhirTask.model_validate(entry["resource"])
        assert entry["fullUrl"].endswith(f"/fhir/R4/Task/{entry['resource']['id']}")
    entries, pages = page_through(fhir, f"/Task?patient={world.patient.pk}&_count=2")
    assert sorted(int(e["resource"]["id"]) for e in entries) == mine
    assert pages == (len(mine) + 1) // 2
    # Status by FHIR code, one of several, and all together.
    completed = fhir.call("GET", f"/Task?patient=Patient/{world.patient.pk}&status=completed")[1]
    assert ids(completed) == [done]
    closed = fhir.call("GET", f"/Task?subject={world.patient.pk}&status=completed,failed")[1]
    assert sorted(ids(closed)) == [done, failed]
    requested = fhir.call("GET", "/Task?status=requested&_count=200")[1]
    assert sorted(ids(requested)) == sorted(set(mine) - {done, failed})
    assert fhir.call("GET", "/Task?status=on-hold")[1]["total"] == 0  # FHIR's, never ours
    status, body, _ = fhir.call("GET", "/Task?status=open")  # ours, not FHIR's
    assert status == 400 and body["issue"][0]["expression"] == ["status"]
    # Without a patient: only the patients Carol may see.
    everything = fhir.call("GET", "/Task?_count=200")[1]
    assert sorted(ids(everything)) == mine
    searched = AuditEvent.objects.filter(action="search", object_type="task")
    assert searched.exists() and all("FHIR search" in e.summary for e in searched)


# -------------------------------------------------------------------------------- CarePlan


def test_read_and_search_care_plans(fhir: Fhir, world: World) -> None:
    status, body, _ = fhir.call("GET", f"/CarePlan/{world.plan.pk}")
    assert status == 200, body
    FhirCarePlan.model_validate(body)
    assert body["status"] == "active" and body["intent"] == "plan"
    assert body["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    assert body["title"] == f"术后随访 v{world.plan.version.version}"
    assert body["description"] == "胆囊切除术后"
    assert moment(body["period"]["start"]) == world.plan.started_at
    assert "end" not in body["period"] and "note" not in body
    active = fhir.call("GET", f"/CarePlan?patient={world.patient.pk}&status=active")[1]
    Bundle.model_validate(active)
    assert ids(active) == [world.plan.pk]

    stop_plan(world.plan, Plan.StopReason.GOAL_MET)
    world.plan.refresh_from_db()
    body = fhir.call("GET", f"/CarePlan/{world.plan.pk}")[1]
    FhirCarePlan.model_validate(body)
    assert body["status"] == "revoked"
    assert moment(body["period"]["end"]) == world.plan.ended_at
    assert body["note"] == [{"text": str(Plan.StopReason.GOAL_MET.label)}]
    assert fhir.call("GET", f"/CarePlan?patient={world.patient.pk}&status=active")[1]["total"] == 0
    revoked = fhir.call("GET", "/CarePlan?status=revoked")[1]
    assert ids(revoked) == [world.plan.pk]
    # Its tasks were cancelled with it, and say why.
    cancelled = fhir.call("GET", f"/Task?patient={world.patient.pk}&status=cancelled&_count=1")[1]
    assert cancelled["total"] == world.plan.tasks.count()
    assert cancelled["entry"][0]["resource"]["statusReason"]["text"].startswith("计划已停止")
    # A second plan of the same patient, found by patient; paged one at a time.
    other = enrol(world.patient, Pathway.objects.get(code="discharge-general"), trigger="manual")
    assert other is not None
    entries, pages = page_through(fhir, f"/CarePlan?patient={world.patient.pk}&_count=1")
    assert pages == 2
    assert sorted(int(e["resource"]["id"]) for e in entries) == sorted([world.plan.pk, other.pk])


# ------------------------------------------------------------------------------------ Flag


def test_read_and_search_flags(fhir: Fhir, world: World) -> None:
    alerts = [
        raise_alert(
            world.patient, kind="rule", severity="high", title=f"血压过高 {n}", reason="测试"
        )
        for n in range(3)
    ]
    resolved_at = timezone.now()
    Alert.objects.filter(pk=alerts[0].pk).update(status="resolved", resolved_at=resolved_at)
    Alert.objects.filter(pk=alerts[1].pk).update(status="in_progress")

    status, body, _ = fhir.call("GET", f"/Flag/{alerts[2].pk}")
    assert status == 200, body
    FhirFlag.model_validate(body)
    assert body["status"] == "active" and body["code"] == {"text": "血压过高 2"}
    assert body["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    kind, severity = body["category"]
    assert kind["coding"][0] == {"system": KIND, "code": "rule", "display": kind["text"]}
    assert severity["coding"][0]["system"] == SEVERITY
    assert severity["coding"][0]["code"] == "high"
    assert moment(body["period"]["start"]) == alerts[2].created_at
    assert "end" not in body["period"]
    assert "测试" not in str(body)  # the reason stays in CareLoop

    ended = fhir.call("GET", f"/Flag/{alerts[0].pk}")[1]
    FhirFlag.model_validate(ended)
    assert ended["status"] == "inactive" and moment(ended["period"]["end"]) == resolved_at

    active = fhir.call("GET", f"/Flag?patient={world.patient.pk}&status=active")[1]
    Bundle.model_validate(active)
    assert sorted(ids(active)) == [alerts[1].pk, alerts[2].pk]
    inactive = fhir.call("GET", f"/Flag?patient={world.patient.pk}&status=inactive")[1]
    assert ids(inactive) == [alerts[0].pk]
    entries, pages = page_through(fhir, f"/Flag?patient={world.patient.pk}&_count=2")
    assert pages == 2 and sorted(int(e["resource"]["id"]) for e in entries) == [
        a.pk for a in alerts
    ]
    assert fhir.call("GET", "/Flag?status=resolved")[0] == 400
    everything = fhir.call("GET", "/Flag")[1]
    assert world.their_alert.pk not in ids(everything) and everything["total"] == 3


# -------------------------------------------------------------------------- access, writes


def test_another_organisations_records_are_not_found(fhir: Fhir, world: World) -> None:
    their_task = world.their_plan.tasks.first()
    assert their_task is not None
    for path in (
        f"/Task/{their_task.pk}",
        f"/CarePlan/{world.their_plan.pk}",
        f"/Flag/{world.their_alert.pk}",
        "/Task/999999",
        "/Task/abc",
    ):
        status, body, _ = fhir.call("GET", path)
        assert status == 404, path
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "not-found"
    for kind in ("Task", "CarePlan", "Flag"):
        found = fhir.call("GET", f"/{kind}?patient={world.theirs.pk}")[1]
        assert found["total"] == 0 and found["entry"] == [], kind
    assert not AuditEvent.objects.filter(action="view", object_type="task").exists()


def test_they_need_the_follow_up_permissions(
    live_server: Any, world: World, cardiology: Any
) -> None:
    _, token = do_create_token(UserFactory(organisation=cardiology))  # no role
    client = Fhir(live_server.url, token)
    for path in ("/Task", "/CarePlan", "/Flag", f"/CarePlan/{world.plan.pk}"):
        status, body, _ = client.call("GET", path)
        assert status == 403 and body["issue"][0]["code"] == "forbidden", path


def test_writes_are_refused_with_405(fhir: Fhir, world: World) -> None:
    task = world.plan.tasks.first()
    assert task is not None
    current = fhir.call("GET", f"/Task/{task.pk}")[1]
    before = (Task.objects.count(), Plan.objects.count(), Alert.objects.count())
    new_task = {k: v for k, v in current.items() if k != "id"}
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{world.patient.pk}"},
    }
    flag = {
        "resourceType": "Flag",
        "status": "active",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{world.patient.pk}"},
    }
    for method, path, resource in (
        ("POST", "/Task", new_task),
        ("POST", "/CarePlan", plan),
        ("POST", "/Flag", flag),
        ("PUT", f"/Task/{task.pk}", dict(current, status="completed")),
        ("PUT", f"/CarePlan/{world.plan.pk}", dict(plan, id=str(world.plan.pk))),
    ):
        status, body, _ = fhir.call(method, path, resource)
        assert status == 405, (method, path, body)
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "not-supported"
    assert fhir.call("DELETE", f"/Task/{task.pk}")[0] == 405
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": new_task, "request": {"method": "POST", "url": "Task"}}],
    }
    status, answer, _ = fhir.call("POST", "", batch)
    assert status == 200
    assert answer["entry"][0]["response"]["status"] == "405 Method Not Allowed"
    assert (Task.objects.count(), Plan.objects.count(), Alert.objects.count()) == before
    task.refresh_from_db()
    assert task.status == "open"
    stored = InboundMessage.objects.filter(transport="fhir").exclude(message_type="Bundle")
    assert stored.count() == 5 and {m.status for m in stored} == {"rejected"}  # kept, raw


def test_metadata_lists_the_follow_up_types_read_only(fhir: Fhir) -> None:
    status, body, _ = Fhir(fhir.base.removesuffix("/fhir/R4"), None).call("GET", "/metadata")
    assert status == 200
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    for kind in ("Task", "CarePlan", "Flag"):
        assert [i["code"] for i in resources[kind]["interaction"]] == [
            "read",
            "vread",
            "search-type",
        ]
        params = {p["name"]: p["type"] for p in resources[kind]["searchParam"]}
        assert params["patient"] == "reference" and params["status"] == "token"
        assert params["_count"] == "number"
    assert "create" in [i["code"] for i in resources["Patient"]["interaction"]]

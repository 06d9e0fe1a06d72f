"""Outbound webhooks (F17): what happens here (an alert raised or moved on, a follow-up done)
is sent, signed, to the integrator's address of the patient's organisation, and tried again
until it is accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from careloop.accounts.roles import Role
from careloop.followup.models import Alert, Task
from careloop.followup.services import raise_alert
from careloop.interop import webhook_delivery
from careloop.interop.webhook_delivery import BACKOFF, WEBHOOKS_KEPT, claim, deliver
from careloop.interop.webhook_models import WebhookDelivery, WebhookEndpoint
from careloop.tasks import prune_finished_jobs
from tests.factories import UserFactory, two_factor_client
from tests.outreach.conftest import ProviderServer, Seen

D = WebhookDelivery.Status


@pytest.fixture
def receiver() -> Iterator[ProviderServer]:
    server = ProviderServer()
    yield server
    server.close()


def endpoint(url: str, organisation: Any = None, events: list[str] | None = None) -> Any:
    return WebhookEndpoint.objects.create(
        name="区域平台",
        url=url + "/hooks/careloop?token=abc",
        organisation=organisation,
        events=events or ["alert.created", "alert.updated", "task.completed"],
    )


def alert_for(patient: Any, **fields: Any) -> Alert:
    values = {
        "kind": Alert.Kind.MANUAL,
        "severity": Alert.Severity.HIGH,
        "title": "血压很高",
        "reason": "收缩压 182 mmHg，超过 180",
    }
    return raise_alert(patient, **(values | fields))


def signed_by(seen: Seen, secret: str) -> bool:
    stamp = seen.headers["x-careloop-timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + seen.body, hashlib.sha256)
    return seen.headers["x-careloop-signature"] == "sha256=" + mac.hexdigest()


def test_an_alert_is_delivered_signed_with_the_api_fields_and_no_identifiers(
    hospital: Any, patient_factory: Any, receiver: ProviderServer
) -> None:
    hook = endpoint(receiver.url, hospital)
    patient = patient_factory(organisation=hospital, name="张秀英", phone="13912345678")
    alert = alert_for(patient)

    assert deliver(5) == {"delivered": 1, "retry": 0, "failed": 0}
    [seen] = receiver.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/hooks/careloop", {"token": "abc"})
    assert seen.headers["content-type"] == "application/json; charset=utf-8"
    assert seen.headers["x-careloop-event"] == "alert.created"
    assert signed_by(seen, WebhookEndpoint.objects.get().secret)
    assert not signed_by(seen, "another secret")
    body = seen.json()
    assert body["type"] == "alert.created" and body["organisation"] == hospital.pk
    assert body["id"] == seen.headers["x-careloop-event-id"]
    data = body["data"]["alert"]
    assert (data["id"], data["patient"], data["status"], data["severity"]) == (
        alert.pk,
        patient.pk,
        "open",
        "high",
    )
    assert data["reason"] == "收缩压 182 mmHg，超过 180"
    assert "张秀英" not in seen.body.decode() and "13912345678" not in seen.body.decode()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.status, delivery.attempts, delivery.last_status) == (
        hook,
        D.DELIVERED,
        1,
        200,
    )
    assert deliver(5) == {"delivered": 0, "retry": 0, "failed": 0}  # sent once


def test_each_endpoint_hears_its_organisation_and_those_below_it(
    hospital: Any, cardiology: Any, community: Any, patient_factory: Any
) -> None:
    above = endpoint("http://127.0.0.1:9", hospital)
    elsewhere = endpoint("http://127.0.0.1:9", community)
    everyone = endpoint("http://127.0.0.1:9")
    tasks_only = endpoint("http://127.0.0.1:9", cardiology, ["task.completed"])
    WebhookEndpoint.objects.create(
        name="停用", url="http://127.0.0.1:9", events=["alert.created"], active=False
    )
    alert_for(patient_factory(organisation=cardiology))

    assert set(WebhookDelivery.objects.values_list("endpoint", flat=True)) == {
        above.pk,
        everyone.pk,
    }
    assert elsewhere.deliveries.count() == tasks_only.deliveries.count() == 0
    # One event, one id, whoever receives it.
    assert len(set(WebhookDelivery.objects.values_list("event_id", flat=True))) == 1


def test_a_change_rolled_back_sends_nothing(hospital: Any, patient_factory: Any) -> None:
    endpoint("http://127.0.0.1:9", hospital)
    patient = patient_factory(organisation=hospital)

    def change() -> None:
        with transaction.atomic():
            alert_for(patient)
            raise RuntimeError("the rest of the change failed")

    with pytest.raises(RuntimeError):
        change()
    assert not WebhookDelivery.objects.exists() and not Alert.objects.exists()


def test_the_delivery_job_is_enqueued_once_when_the_change_commits(
    hospital: Any, patient_factory: Any, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint("http://127.0.0.1:9", hospital)
    patient = patient_factory(organisation=hospital)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alert_for(patient)
        alert_for(patient, title="再次")
    assert len(callbacks) == 1
    assert DBTaskResult.objects.filter(task_path__endswith="deliver_webhooks").count() == 1


def test_no_endpoint_no_delivery_and_no_job(
    hospital: Any, patient_factory: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alert_for(patient_factory(organisation=hospital))
    assert callbacks == [] and not WebhookDelivery.objects.exists()


def test_refused_and_unreachable_are_tried_again_with_growing_waits_then_given_up(
    hospital: Any, patient_factory: Any, receiver: ProviderServer, monkeypatch: Any
) -> None:
    endpoint(receiver.url, hospital)
    receiver.answer = lambda _seen: (503, {"error": "busy"})
    alert_for(patient_factory(organisation=hospital))
    delivery = WebhookDelivery.objects.get()

    assert deliver(5) == {"delivered": 0, "retry": 1, "failed": 0}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status) == (D.PENDING, 1, 503)
    assert delivery.last_error == "HTTP 503"
    assert delivery.next_attempt_at - delivery.created_at >= BACKOFF[0]
    assert deliver(5)["retry"] == 0  # not before its wait is over

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    WebhookEndpoint.objects.update(url=f"http://127.0.0.1:{port}/hook")
    for tries in range(2, len(BACKOFF) + 2):
        WebhookDelivery.objects.update(next_attempt_at=delivery.created_at)
        deliver(5)
        delivery.refresh_from_db()
        assert delivery.attempts == tries
        assert delivery.last_status is None and "cannot reach 127.0.0.1" in delivery.last_error
    assert delivery.status == D.FAILED  # after a day of tries
    WebhookDelivery.objects.update(next_attempt_at=delivery.created_at)
    assert deliver(5) == {"delivered": 0, "retry": 0, "failed": 0}  # given up: left alone


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out(
    hospital: Any, patient_factory: Any
) -> None:
    endpoint("http://127.0.0.1:9", hospital)
    alert_for(patient_factory(organisation=hospital))
    first = claim()
    assert len(first) == 1 and claim() == []
    later = first[0].next_attempt_at + timedelta(seconds=1)
    assert [d.pk for d in claim(now=later)] == [first[0].pk]  # a worker stopped mid-send


def test_moving_an_alert_on_and_completing_a_task_are_events(
    hospital: Any, alice: Any, api_as: Any, patient_factory: Any, receiver: ProviderServer
) -> None:
    endpoint(receiver.url, hospital)
    patient = patient_factory(organisation=hospital)
    alert = alert_for(patient, assignee_id=alice.pk)
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="出院第7天电话随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=alert.created_at,
        deadline=alert.created_at + timedelta(days=2),
        assignee=alice,
    )
    api = api_as(alice)
    moved = api.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "acknowledge"})
    assert moved.status_code == 200
    done = api.post(f"/api/v1/tasks/{task.pk}/outcome", {"outcome": "reached", "notes": "好转"})
    assert done.status_code in (200, 201), done.content

    deliver(5)
    bodies = {s.headers["x-careloop-event"]: s.json() for s in receiver.seen}
    assert set(bodies) == {"alert.created", "alert.updated", "task.completed"}
    change = bodies["alert.updated"]["data"]
    assert change["alert"]["status"] == "acknowledged"
    assert (change["change"]["action"], change["change"]["from_status"]) == ("acknowledge", "open")
    assert change["change"]["actor"] == "alice"
    completed = bodies["task.completed"]["data"]["task"]
    assert (completed["id"], completed["status"], completed["outcome"]) == (
        task.pk,
        "done",
        "reached",
    )


def test_an_administrator_adds_an_endpoint_and_sends_it_a_test_event(
    hospital: Any, community: Any, receiver: ProviderServer
) -> None:
    admin = UserFactory(username="itadmin", organisation=hospital, role=Role.ADMIN)
    client = two_factor_client(admin)
    form = client.get("/admin/interop/webhookendpoint/add/").content.decode()
    assert "alert.created：产生预警" in form and "task.completed：随访任务完成" in form
    added = client.post(
        "/admin/interop/webhookendpoint/add/",
        {
            "name": "医院集成平台",
            "url": receiver.url + "/hook",
            "organisation": hospital.pk,
            "events": ["alert.created", "task.completed"],
            "active": "on",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    hook = WebhookEndpoint.objects.get()
    assert hook.events == ["alert.created", "task.completed"] and len(hook.secret) >= 40
    with connection.cursor() as cursor:  # the secret is encrypted at rest
        cursor.execute("SELECT secret FROM interop_webhookendpoint")
        assert hook.secret not in cursor.fetchone()[0]
    page = client.get(f"/admin/interop/webhookendpoint/{hook.pk}/change/")
    assert hook.secret in page.content.decode()  # shown to the administrator to copy

    unknown = client.post(
        "/admin/interop/webhookendpoint/add/",
        {"name": "x", "url": "ftp://example.org/", "organisation": hospital.pk, "events": []},
    )
    assert unknown.status_code == 200 and WebhookEndpoint.objects.count() == 1

    client.post(
        "/admin/interop/webhookendpoint/",
        {"action": "send_test_event", "_selected_action": [hook.pk]},
    )
    assert deliver(5)["delivered"] == 1
    assert receiver.seen[0].headers["x-careloop-event"] == "ping"

    other = endpoint("http://127.0.0.1:9", community)
    listed = client.get("/admin/interop/webhookendpoint/").content.decode()
    assert "医院集成平台" in listed and f"/{other.pk}/change/" not in listed
    assert client.get(f"/admin/interop/webhookendpoint/{other.pk}/change/").status_code == 302


def test_a_given_up_delivery_is_sent_again_by_the_administrator(
    hospital: Any, patient_factory: Any, receiver: ProviderServer
) -> None:
    endpoint(receiver.url, hospital)
    alert_for(patient_factory(organisation=hospital))
    WebhookDelivery.objects.update(status=D.FAILED, attempts=8)
    admin = UserFactory(username="itadmin", organisation=hospital, role=Role.ADMIN)
    client = two_factor_client(admin)
    client.post(
        "/admin/interop/webhookdelivery/",
        {
            "action": "send_again",
            "_selected_action": list(WebhookDelivery.objects.values_list("pk", flat=True)),
        },
    )
    assert deliver(5)["delivered"] == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (D.DELIVERED, 1)
    detail = client.get(f"/admin/interop/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200 and "alert.created" in detail.content.decode()


def test_a_query_string_never_reaches_the_log(
    hospital: Any, patient_factory: Any, caplog: Any
) -> None:
    endpoint("http://127.0.0.1:9", hospital)
    alert_for(patient_factory(organisation=hospital))
    with caplog.at_level("WARNING", logger=webhook_delivery.logger.name):
        deliver(5)
    assert "127.0.0.1/hooks/careloop" in caplog.text and "token" not in caplog.text
    assert json.dumps(WebhookDelivery.objects.get().last_error).find("abc") == -1


def test_deliveries_done_with_are_forgotten_after_a_month(
    hospital: Any, patient_factory: Any
) -> None:
    endpoint("http://127.0.0.1:9", hospital)
    patient = patient_factory(organisation=hospital)
    for _ in range(3):
        alert_for(patient)
    old = timezone.now() - WEBHOOKS_KEPT - timedelta(days=1)
    first, second, third = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=first.pk).update(status=D.DELIVERED, created_at=old)
    # Waiting a month: for an endpoint switched off since (tries end after a day).
    WebhookDelivery.objects.filter(pk=second.pk).update(status=D.PENDING, created_at=old)
    WebhookDelivery.objects.filter(pk=third.pk).update(status=D.FAILED)
    prune_finished_jobs.call()
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {third.pk}


def test_an_overdue_alert_another_sweep_inserted_first_is_not_sent_again_by_this_one(
    hospital: Any, patient_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careloop.followup import alert_sources

    endpoint("http://127.0.0.1:9", hospital, ["alert.created"])
    patient = patient_factory(organisation=hospital, risk_tier="high")
    now = timezone.now()
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="出院第3天电话随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now - timedelta(days=3),
        deadline=now - timedelta(days=2),
    )
    built = alert_sources.new_alert

    def second_sweep_first(*args: Any, **kwargs: Any) -> Alert:
        mine = built(*args, **kwargs)
        # Another worker's sweep, a moment later, inserts (and sends) this task's alert
        # before ours: our insert is then ignored as a conflict.
        theirs = built(*args, **kwargs)
        theirs.save()
        return mine

    monkeypatch.setattr(alert_sources, "new_alert", second_sweep_first)
    alert_sources.raise_overdue_alerts(now=now)

    assert Alert.objects.filter(task=task).count() == 1
    assert not WebhookDelivery.objects.exists()  # that sweep's to send, not ours

    monkeypatch.undo()
    later = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="出院第7天电话随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now - timedelta(days=3),
        deadline=now - timedelta(days=2),
    )
    alert_sources.raise_overdue_alerts(now=now)
    sent = WebhookDelivery.objects.get()  # its own, once
    assert sent.payload["data"]["alert"]["id"] == Alert.objects.get(task=later).pk


def test_a_reminder_reopened_and_completed_again_is_told_completed_once(
    hospital: Any, alice: Any, api_as: Any, patient_factory: Any
) -> None:
    """A reminder closed by its send (task.completed), reported undelivered by the provider
    (opened again, no event) and then completed by an outcome recorded on it was told
    ``task.completed`` twice for one task."""
    from careloop.outreach.followthrough import after_failure, after_send
    from careloop.outreach.models import Message

    hook = endpoint("http://127.0.0.1:9", hospital, events=["task.completed"])
    patient = patient_factory(organisation=hospital)
    now = timezone.now()
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        title="服药提醒",
        purpose="condition_tracking",
        channel="sms",
        channels=["sms", "phone"],
        due_at=now,
        deadline=now + timedelta(days=2),
        assignee=alice,
    )
    message = Message.objects.create(
        organisation=hospital,
        patient=patient,
        task=task,
        key=f"task:{task.pk}:sms",
        channel="sms",
        provider="demo",
        body="请按时服药",
        status=Message.Status.SENT,
        sent_at=now,
    )
    assert after_send([message], now) == 1
    message.status, message.error = Message.Status.FAILED, "号码停机"
    message.save(update_fields=["status", "error"])
    after_failure([message], now + timedelta(minutes=5))
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN  # reopened: the patient was not reached
    done = api_as(alice).post(
        f"/api/v1/tasks/{task.pk}/outcome", {"outcome": "reached", "notes": "电话已联系"}
    )
    assert done.status_code in (200, 201), done.content
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    events = hook.deliveries.filter(event="task.completed")
    assert events.count() == 1
    assert events.get().payload["data"]["task"]["id"] == task.pk

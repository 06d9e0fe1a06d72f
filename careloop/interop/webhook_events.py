"""Events for the webhook endpoints, stored in the same transaction as the change that causes
them (an alert raised, moved on; a follow-up done): committed together, so an event is
never lost nor sent for a change rolled back. Without an active endpoint listening to an
event, this costs one small query and nothing is built.

Each event is one delivery per endpoint that listens to it and whose organisation holds the
row's (the row's own, one above it, or every organisation); its ``data`` is the row as the
JSON API gives it, at the moment of the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from careloop.interop.webhook_models import PING, WebhookDelivery, WebhookEndpoint


def listening(event: str) -> list[tuple[int, int | None]]:
    """(endpoint id, organisation id) of the active endpoints listening to ``event``."""
    rows = WebhookEndpoint.objects.filter(active=True).values_list(
        "pk", "organisation_id", "events"
    )
    return [(pk, organisation) for pk, organisation, events in rows if event in events]


def store(
    event: str,
    endpoints: list[tuple[int, int | None]],
    items: list[tuple[int, Any]],
    keys: list[str] | None = None,
) -> int:
    """Store ``event`` once per item (organisation id, data) for each of ``endpoints`` that
    covers the item's organisation; the worker is told to deliver once committed.
    ``keys`` (one per item): an item whose key an endpoint was already given is not stored
    for it again (``WebhookDelivery.key``)."""
    from careloop.accounts.models import Organisation

    wanted = {organisation for organisation, _ in items}
    lineages = {
        o.pk: set(o.lineage) for o in Organisation.objects.filter(pk__in=wanted).only("pk", "path")
    }
    now = timezone.now()
    rows: list[WebhookDelivery] = []
    for index, (organisation, data) in enumerate(items):
        key = keys[index] if keys else ""
        event_id = uuid.uuid4()
        payload = {
            "id": str(event_id),
            "type": event,
            "created_at": now.isoformat(),
            "organisation": organisation,
            "data": data,
        }
        lineage = lineages.get(organisation, set())
        rows.extend(
            WebhookDelivery(
                endpoint_id=pk,
                event=event,
                event_id=event_id,
                key=key,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
            for pk, owner in endpoints
            if owner is None or owner in lineage
        )
    if keys:
        given = set(
            WebhookDelivery.objects.filter(
                endpoint_id__in=[pk for pk, _ in endpoints], key__in={r.key for r in rows}
            ).values_list("endpoint_id", "key")
        )
        rows = [r for r in rows if (r.endpoint_id, r.key) not in given]
    # ignore_conflicts: one given meanwhile by a transaction committed since (the index
    # webhook_event_key_once keeps it once)
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=bool(keys))
    if rows:
        deliver_soon()
    return len(rows)


def deliver_soon() -> None:
    """Enqueue the delivery job when the transaction commits (once per transaction; at
    once outside one). A rolled-back transaction enqueues nothing."""
    connection = transaction.get_connection()
    if any(callback is _enqueue for _, callback, _ in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    from careloop.interop.tasks import deliver_webhooks

    deliver_webhooks.enqueue()


def alerts_created(alert_ids: Iterable[int | None]) -> int:
    endpoints = listening("alert.created")
    if not endpoints:
        return 0
    return store(
        "alert.created",
        endpoints,
        [(a.organisation_id, {"alert": _alert(a)}) for a in _alerts(alert_ids)],
    )


def alert_events(events: Iterable[Any]) -> int:
    """``alert.updated`` for each AlertEvent (a step of an alert's life) in ``events``."""
    endpoints = listening("alert.updated")
    if not endpoints:
        return 0
    event_out = _api().event_out

    steps = list(events)
    alerts = {a.pk: a for a in _alerts(e.alert_id for e in steps)}
    items = []
    for step in steps:
        alert = alerts.get(step.alert_id)
        if alert is None:
            continue
        items.append(
            (
                alert.organisation_id,
                {"alert": _alert(alert), "change": event_out(step).model_dump(mode="json")},
            )
        )
    return store("alert.updated", endpoints, items)


def tasks_completed(task_ids: Iterable[int | None], *, closed_at: Any = None) -> int:
    """``task.completed`` for each of these tasks that is done (closed at ``closed_at``,
    when given: not one closed before by someone else), once per task and endpoint: a
    reminder closed by its send, opened again when the provider reports it undelivered and
    completed later (by its next channel, or an outcome recorded on it) is not told twice."""
    endpoints = listening("task.completed")
    if not endpoints:
        return 0
    from careloop.followup.models import Task

    task_out = _tasks_api().task_out

    done = Task.objects.filter(pk__in=list(task_ids), status=Task.Status.DONE)
    if closed_at is not None:
        done = done.filter(closed_at=closed_at)
    tasks = done.select_related("plan__pathway", "assignee").order_by("pk")
    items = [(t.organisation_id, {"task": task_out(t).model_dump(mode="json")}) for t in tasks]
    keys = [f"task.completed:{t.pk}" for t in tasks]
    return store("task.completed", endpoints, items, keys)


WITHDRAWN = "withdrawn"


def alerts_withdrawn(alert_ids: Iterable[int], note: str) -> int:
    """``alert.updated`` with status ``withdrawn`` for alerts about to be deleted because
    their result was withdrawn (corrected, cancelled or sent again by the laboratory, or its
    message reprocessed), so the receiver's copy is not left open. Call before deleting."""
    endpoints = listening("alert.updated")
    if not endpoints:
        return 0
    now = timezone.now().isoformat()
    items = []
    for alert in _alerts(alert_ids):
        data = _alert(alert)
        change = {
            "action": WITHDRAWN,
            "from_status": data["status"],
            "to_status": WITHDRAWN,
            "actor": None,
            "note": note,
            "at": now,
        }
        data["status"] = WITHDRAWN
        items.append((alert.organisation_id, {"alert": data, "change": change}))
    return store("alert.updated", endpoints, items)


def ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test event for ``endpoint``, delivered like any other."""
    now = timezone.now()
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=PING,
        event_id=event_id,
        payload={
            "id": str(event_id),
            "type": PING,
            "created_at": now.isoformat(),
            "organisation": endpoint.organisation_id,
            "data": {"endpoint": endpoint.pk},
        },
        created_at=now,
        next_attempt_at=now,
    )
    deliver_soon()
    return delivery


def _alerts(alert_ids: Iterable[int | None]) -> Any:
    from careloop.followup.models import Alert

    return (
        Alert.objects.filter(pk__in=[pk for pk in alert_ids if pk is not None])
        .select_related("observation", "assignee", "verified_by")
        .order_by("pk")
    )


def _alert(alert: Any) -> dict[str, Any]:
    data: dict[str, Any] = _api().alert_out(alert).model_dump(mode="json")
    return data


def _api() -> Any:
    """The JSON API's alert serialisers (careloop.api first: it imports every router, and
    importing followup.api before it is circular)."""
    import careloop.api  # noqa: F401
    from careloop.followup import api

    return api


def _tasks_api() -> Any:
    import careloop.api  # noqa: F401  (as in _api)
    from careloop.followup import tasks_api

    return tasks_api

"""Sending the stored webhook events: claimed in batches (two workers never send one
delivery at once), signed, POSTed several at a time, and tried again with growing waits
until the endpoint answers 2xx. Delivery is at least once: a worker stopped after a POST and
before recording it sends that event again when its lease runs out, with the same event id
(``X-CareLoop-Event-Id``), by which the receiver drops a repeat.

Each request:

    POST <the endpoint's address>
    Content-Type: application/json; charset=utf-8
    X-CareLoop-Event: alert.created
    X-CareLoop-Event-Id: <uuid of the event>
    X-CareLoop-Timestamp: <unix seconds>
    X-CareLoop-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

    {"id": <event id>, "type": "alert.created", "created_at": …, "organisation": …,
     "data": {"alert": {… as GET /api/v1/alerts/{id} …}}}
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from careloop.interop.webhook_models import WebhookDelivery
from careloop.outreach.transports.webhook import signature

logger = logging.getLogger("careloop.interop.webhooks")

# The waits after each failed try; after the last one the delivery is given up (about a
# day of tries in all). An administrator can send a given-up delivery again.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
LEASE = timedelta(minutes=5)  # a claimed delivery is not claimed again before this
TIMEOUT, CONNECT_TIMEOUT = 10.0, 5.0
BATCH, AT_ONCE = 100, 8
S = WebhookDelivery.Status
OUTCOME: dict[str, str] = {S.DELIVERED: "delivered", S.FAILED: "failed"}


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status, None when there was no answer
    error: str


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()


def headers_for(delivery: WebhookDelivery, body: bytes, stamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "CareLoop-Webhooks/1",
        "X-CareLoop-Event": delivery.event,
        "X-CareLoop-Event-Id": str(delivery.event_id),
        "X-CareLoop-Timestamp": stamp,
        "X-CareLoop-Signature": signature(delivery.endpoint.secret, stamp, body),
    }


def claim(limit: int = BATCH, *, now: datetime | None = None) -> list[WebhookDelivery]:
    """Up to ``limit`` due deliveries of active endpoints, each leased to this worker."""
    now = now or timezone.now()
    token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
    due = Q(status=S.PENDING, next_attempt_at__lte=now, endpoint__active=True)
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(due)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            WebhookDelivery.objects.filter(due, id__in=ids).update(
                next_attempt_at=now + LEASE, claimed_by=token
            )
    return list(
        WebhookDelivery.objects.filter(claimed_by=token, status=S.PENDING)
        .select_related("endpoint")
        .order_by("id")
    )


def post(client: Any, delivery: WebhookDelivery) -> Answer:
    import httpx

    body = body_of(delivery)
    headers = headers_for(delivery, body, str(int(time.time())))
    where = urlsplit(delivery.endpoint.url)
    try:
        response = client.post(delivery.endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        # Host and path only: a query string may hold the receiver's own token.
        logger.warning(
            "webhook to %s%s failed: %s", where.hostname, where.path, type(error).__name__
        )
        return Answer(None, f"{type(error).__name__}: cannot reach {where.hostname}")
    if response.status_code < 300:
        return Answer(response.status_code, "")
    return Answer(response.status_code, f"HTTP {response.status_code}")


def record(delivery: WebhookDelivery, answer: Answer, now: datetime) -> None:
    """Store the try's answer: delivered, tried again after its wait, or given up."""
    token = delivery.claimed_by
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = answer.status, answer.error[:300]
    if answer.status is not None and answer.status < 300:
        delivery.status, delivery.delivered_at = S.DELIVERED, now
    elif delivery.attempts > len(BACKOFF):
        delivery.status = S.FAILED
    else:
        delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]
    delivery.claimed_by = ""
    fields = ("attempts", "last_status", "last_error", "status", "delivered_at", "next_attempt_at")
    # Only while it is still this worker's (an administrator may have sent it again).
    WebhookDelivery.objects.filter(pk=delivery.pk, claimed_by=token).update(
        claimed_by="", **{name: getattr(delivery, name) for name in fields}
    )


WEBHOOKS_KEPT = timedelta(days=30)


def prune(now: datetime | None = None) -> int:
    """Forget deliveries made more than ``WEBHOOKS_KEPT`` ago, whatever became of them
    (their content is a patient's alert or follow-up): delivered, given up, or still
    waiting for an endpoint switched off since (tries end after about a day)."""
    before = (now or timezone.now()) - WEBHOOKS_KEPT
    deleted, _ = WebhookDelivery.objects.filter(created_at__lt=before).delete()
    return deleted


def deliver(seconds: float = 50.0, *, client: Any = None) -> dict[str, int]:
    """Send due deliveries, a batch at a time, until none is due or ``seconds`` are up."""
    import httpx

    totals = {"delivered": 0, "retry": 0, "failed": 0}
    own = client is None
    client = client or httpx.Client(
        timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,
    )
    until = time.monotonic() + seconds
    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            while time.monotonic() < until:
                batch = claim()
                if not batch:
                    break
                answers = list(pool.map(lambda d: post(client, d), batch))
                now = timezone.now()
                for delivery, answer in zip(batch, answers, strict=True):
                    record(delivery, answer, now)
                    totals[OUTCOME.get(delivery.status, "retry")] += 1
    finally:
        if own:
            client.close()
    return totals

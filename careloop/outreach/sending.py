"""Sending queued messages: claim a batch with a lease, send them concurrently, record each
result. A worker killed mid-send leaves its messages "sending"; when the lease runs out
another worker claims them again and sends them with the same key, which providers use to
drop a repeat (Aliyun OutId, Tencent SessionContext, WeChat client_msg_id, the webhook's
Idempotency-Key). Temporary errors retry with backoff; after the last try, or at once for a
permanent error, the task moves to the next channel of its policy."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, transaction
from django.db import connections as databases
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from careloop.bulk import BulkInsert, array_type, bulk_cursor, concrete_field
from careloop.outreach import followthrough
from careloop.outreach.config import Resolved, channel_config, transport_for
from careloop.outreach.http_batches import (
    LEASE_RAN_OUT,
    Answers,
    Connections,
    Hold,
    Waiter,
    outgoing,
)
from careloop.outreach.models import Message
from careloop.outreach.transports import (
    ConfigError,
    HttpTransport,
    Receipt,
    Transport,
    TransportError,
)
from careloop.outreach.transports.http import sync_client

logger = logging.getLogger("careloop.outreach.sending")


def lease() -> timedelta:
    """How long a claim holds (CARELOOP_SEND_LEASE_SECONDS, default 2 minutes)."""
    return timedelta(seconds=settings.CARELOOP_SEND_LEASE_SECONDS)


BACKOFF = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1))
MAX_TRIES = len(BACKOFF)
RETRY_GRID = timedelta(minutes=1)  # the dispatch job's period (careloop/scheduler.py)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def retry_at(now: datetime, tries: int) -> datetime:
    """When a temporary failure is tried again: after its backoff, on the next whole minute.
    The failures of one busy minute then fall due together and go out in one batch, instead
    of waking a worker for each few of them (each wake waits a provider's answer)."""
    due = now + BACKOFF[tries - 1]
    over = (due - EPOCH) % RETRY_GRID
    return due + (RETRY_GRID - over) if over else due


S = Message.Status


@dataclass
class Sent:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    results: dict[int, Receipt | TransportError] = field(default_factory=dict)


def claimable(now: datetime) -> Q:
    return Q(status=S.QUEUED, next_try_at__lte=now) | Q(status=S.SENDING, lease_until__lt=now)


MOOT = Message.TASK_CLOSED  # why a queued message of a closed task was not sent


def claim(batch: int, *, now: datetime | None = None) -> tuple[str, list[Message]]:
    """Claim up to ``batch`` due messages for this worker. The UPDATE re-checks that each is
    still claimable, so two workers never hold one message (also on SQLite). A due message
    whose follow-up task has closed meanwhile (the patient reached by phone, the plan
    stopped) is cancelled instead: it would ask again what has been answered."""
    from careloop.followup.models import Task

    now = now or timezone.now()
    token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        closed = [s for s in Task.Status.values if s != Task.Status.OPEN]
        Message.objects.filter(
            status=S.QUEUED, next_try_at__lte=now, task__status__in=closed
        ).update(status=S.CANCELLED, error=MOOT)
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(claimable(now))
            .order_by("next_try_at", "id")
            .values_list("id", flat=True)[:batch]
        )
        if ids:
            Message.objects.filter(claimable(now), id__any_of=ids).update(
                status=S.SENDING, lease_until=now + lease(), worker=token
            )
    return token, list(Message.objects.filter(worker=token, status=S.SENDING).order_by("id"))


def _transports(messages: list[Message]) -> dict[int, Transport | TransportError]:
    """Each message's transport (one per organisation and channel), tokens fetched once."""
    made: dict[tuple[int, str], Transport | TransportError] = {}
    out: dict[int, Transport | TransportError] = {}
    for message in messages:
        key = (message.organisation_id, message.channel)
        if key not in made:
            resolved: Resolved = channel_config(message.organisation_id, message.channel)
            try:
                instance = transport_for(resolved)
                if isinstance(instance, HttpTransport):
                    instance.prepare(sync_client())
                made[key] = instance
            except ConfigError as error:
                made[key] = TransportError(str(error), permanent=True, code="config")
            except TransportError as error:
                made[key] = error
        out[message.pk] = made[key]
    return out


@dataclass
class InFlight:
    """A claimed batch on its way out: the answers known already (sends without HTTP,
    transports that could not be made) and, when some go over HTTP, those to come.

    The claim is kept while the batch is out: when a third of the lease has gone by, the
    worker renews it (``keep``), also while it waits for the provider, so a slow provider or a
    batch queued behind another does not let a second worker claim these messages meanwhile.
    A request whose claim has run out all the same (a worker stopped for that long) is not
    sent (``Hold``)."""

    token: str
    messages: list[Message]
    results: Answers
    hold: Hold = field(default_factory=Hold)
    renew_at: float = float("inf")  # time.monotonic() when the lease is renewed next
    coming: Waiter | None = None
    own: Connections | None = None  # connections of this batch alone, closed with it
    transports: list[HttpTransport] = field(default_factory=list)  # settled once answered

    def claimed(self, at: float) -> None:
        """The lease was taken (or renewed) at ``at`` (``time.monotonic()``)."""
        seconds = lease().total_seconds()
        self.renew_at = at + seconds / 3
        self.hold.until = at + seconds - min(5.0, seconds / 10)  # a margin for clocks

    def answers(self, others: Iterable[InFlight | None] = ()) -> Answers:
        """Wait for the answers, renewing this claim and ``others`` (batches claimed and
        started meanwhile) while it waits."""
        held = [self, *(f for f in others if f is not None)]
        try:
            while self.coming is not None:
                keep(held)
                renew_in = min(f.renew_at for f in held) - time.monotonic()
                got = self.coming(None if renew_in == float("inf") else max(0.0, renew_in))
                if got is not None:
                    self.results.update(got)
                    self.coming = None
                    self.settle()
        finally:
            if self.own is not None:
                self.own.close()
                self.own = None
        return self.results

    def settle(self) -> None:
        """The event loop has stopped, so the database can be used again: keep the access
        tokens renewed during the batch for the next ones (a failure here loses nothing but
        the token: the next batch fetches one again)."""
        for transport in self.transports:
            try:
                transport.settle()
            except DatabaseError as error:
                logger.warning("could not keep a renewed token: %s", type(error).__name__)


def keep(flights: Iterable[InFlight | None]) -> None:
    """Renew the lease of each batch whose renewal is due (never shortening it, should the
    clock have stepped back). A claim that has run out (by this worker's clock or at the
    database), or that could not be renewed (the database busy or gone), is not taken back:
    another worker may hold some of its messages by now, so nothing more of the batch is
    sent (``Hold``), and what went out is still recorded."""
    for flight in flights:
        at = time.monotonic()
        if flight is None or at < flight.renew_at:
            continue
        now = timezone.now()
        renewed = 0
        if at < flight.hold.until:
            try:
                renewed = Message.objects.filter(
                    worker=flight.token, status=S.SENDING, lease_until__gt=now
                ).update(lease_until=Greatest(F("lease_until"), Value(now + lease())))
            except DatabaseError as error:
                logger.warning("could not renew a claim: %s", type(error).__name__)
        if renewed == len(flight.messages):
            flight.claimed(at)
        else:  # lapsed: what has not gone out yet is left for the next claim
            flight.hold.until, flight.renew_at = at, float("inf")


def start_sending(
    token: str,
    messages: list[Message],
    concurrency: int,
    connections: Connections | None,
    claimed_at: float | None = None,
    others: Iterable[InFlight | None] = (),
) -> InFlight:
    """Send the claimed ``messages`` (claimed at ``claimed_at``, ``time.monotonic()``): over
    ``connections`` when given, else over connections of the batch's own;
    ``InFlight.answers`` waits for them. ``others``: batches this worker holds meanwhile,
    whose claims are kept while this one is sent."""
    flight = InFlight(token, messages, {})
    flight.claimed(time.monotonic() if claimed_at is None else claimed_at)
    held = [flight, *others]
    transports = _transports(messages)  # may fetch a provider's token first
    http: list[tuple[Message, HttpTransport]] = []
    for message in messages:
        transport = transports[message.pk]
        if isinstance(transport, TransportError):
            flight.results[message.pk] = transport
        elif isinstance(transport, HttpTransport):
            http.append((message, transport))
        else:  # one by one (an SMTP session each): the claims are kept as it goes
            keep(held)
            if time.monotonic() >= flight.hold.until:
                flight.results[message.pk] = LEASE_RAN_OUT
                continue
            try:
                flight.results[message.pk] = transport.send(outgoing(message))
            except TransportError as error:
                flight.results[message.pk] = error
    if http:
        if connections is None:
            connections = flight.own = Connections()
        flight.coming = connections.start(http, concurrency, flight.hold)
        flight.transports = list({id(t): t for _m, t in http}.values())
    return flight


def record_results(
    token: str, messages: list[Message], results: dict[int, Any], now: datetime | None = None
) -> Sent:
    """Store what each send answered, for the messages this worker still holds."""
    now = now or timezone.now()
    done = Sent(results=results)
    with transaction.atomic():
        held = set(  # locked: a claim by another worker waits until these are stored
            Message.objects.select_for_update()
            .filter(worker=token, status=S.SENDING)
            .values_list("id", flat=True)
        )
        changed, gave_up, opted_out = [], [], []
        for message in messages:
            if message.pk not in held:
                continue  # the lease ran out and another worker took it over
            result = results[message.pk]
            if result is LEASE_RAN_OUT:
                continue  # not sent: left for the next claim
            message.tries += 1
            message.lease_until = None
            if isinstance(result, Receipt):
                message.status = S.DELIVERED if result.delivered else S.SENT
                message.provider_id = result.provider_id[:100]
                message.sent_at = now
                message.delivered_at = now if result.delivered else None
                message.error_code = message.error = ""
                done.sent += 1
            elif not result.permanent and message.tries < MAX_TRIES:
                message.status = S.QUEUED
                message.next_try_at = retry_at(now, message.tries)
                message.error_code, message.error = result.code[:64], str(result)[:300]
                done.retry += 1
            else:
                message.status = S.FAILED
                message.error_code, message.error = result.code[:64], str(result)[:300]
                gave_up.append(message)
                if result.opted_out:
                    opted_out.append(message)
                done.failed += 1
            changed.append(message)
        _store(changed)
        followthrough.after_send([m for m in changed if m.status in (S.SENT, S.DELIVERED)], now)
        followthrough.after_failure(gave_up, now)
        followthrough.opt_out_all(opted_out, "provider")
    return done


STORED = (
    "status",
    "tries",
    "lease_until",
    "provider_id",
    "sent_at",
    "delivered_at",
    "next_try_at",
    "error_code",
    "error",
)


def _store(messages: list[Message]) -> None:
    """The messages' new state. PostgreSQL: one UPDATE for the batch, its values as one array
    per column (a statement per message cost the server ~130 µs each, planned and run
    row by row). SQLite: one prepared UPDATE run per message (cheap in-process; ``bulk_update``
    builds a CASE per row and field: most of a batch's CPU at 2,000 messages). Values are
    converted as bulk inserts do: the batch's shared times once each."""
    if not messages:
        return
    prepare = BulkInsert(Message, STORED).prepare
    db = databases[DEFAULT_DB_ALIAS]  # not the proxy: a thread-local lookup per value
    quote = db.ops.quote_name
    table = quote(Message._meta.db_table)
    rows = [[*prepare([getattr(m, name) for name in STORED]), m.pk] for m in messages]
    with bulk_cursor() as cursor:
        if db.vendor == "postgresql":
            fields = [concrete_field(Message, name) for name in STORED]
            arrays = ", ".join(f"%s::{array_type(field, db)}" for field in fields)
            cursor.execute(
                f"UPDATE {table} AS m SET "  # noqa: S608
                + ", ".join(f"{quote(name)} = v.{quote(name)}" for name in STORED)
                + f" FROM unnest({arrays}, %s::bigint[]) AS v("
                + ", ".join(quote(name) for name in STORED)
                + ", id) WHERE m.id = v.id",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        columns = ", ".join(f"{quote(name)} = %s" for name in STORED)
        cursor.executemany(f"UPDATE {table} SET {columns} WHERE id = %s", rows)  # noqa: S608


def send_due(
    batch: int | None = None,
    concurrency: int | None = None,
    connections: Connections | None = None,
) -> Sent:
    """Claim, send and record one batch (CARELOOP_SEND_BATCH, CARELOOP_SEND_CONCURRENCY),
    over ``connections`` when given (else a pool for this batch alone). Returns what
    happened (empty when nothing is due)."""
    flight = send_next(batch, concurrency, connections)
    return finish(flight) if flight is not None else Sent()


def send_next(
    batch: int | None = None,
    concurrency: int | None = None,
    connections: Connections | None = None,
    others: Iterable[InFlight | None] = (),
) -> InFlight | None:
    """Claim the next batch and start sending it; None when nothing is due. ``others``: the
    batches this worker holds meanwhile (their claims are kept)."""
    claimed_at = time.monotonic()
    token, messages = claim(batch or settings.CARELOOP_SEND_BATCH)
    if not messages:
        return None
    concurrency = concurrency or settings.CARELOOP_SEND_CONCURRENCY
    return start_sending(token, messages, concurrency, connections, claimed_at, others)


def finish(flight: InFlight, others: Iterable[InFlight | None] = ()) -> Sent:
    """Wait for the batch's answers and record them; ``others``: the batches claimed
    meanwhile, whose claims are kept while this one waits."""
    return record_results(flight.token, flight.messages, flight.answers(others))

"""A claim on a batch of messages holds while its worker is at it: renewed while the worker
waits for a slow provider, and a request is not sent once its claim has run out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from careloop.outreach import queueing, sending
from careloop.outreach.models import Message
from careloop.outreach.queueing import queue_due
from careloop.outreach.sending import claim, finish, send_due, send_next
from careloop.outreach.tasks import dispatch
from careloop.outreach.transports import Outbox
from tests.outreach.conftest import ProviderServer
from tests.outreach.helpers import NOON, aliyun, make_task

pytestmark = pytest.mark.django_db
LEASE = 1.2  # seconds: renewed each 0.4 s, held until 1.08 s after each renewal


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Noon (no quiet hours), and the clock running from there."""
    started = time.monotonic()
    monkeypatch.setattr(
        timezone, "now", lambda: NOON + timedelta(seconds=time.monotonic() - started)
    )


@pytest.fixture
def short_lease(settings: Any) -> None:
    settings.CARELOOP_SEND_LEASE_SECONDS = LEASE


@pytest.fixture
def no_running_loop() -> Iterator[None]:
    """A worker thread has no event loop running; the browser tests leave Playwright's
    running in this one (``Connections`` then sends at once from a thread of its own)."""
    running = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(running)


def queue_reminders(count: int, patient_factory: Any, hospital: Any) -> None:
    for _ in range(count):
        make_task(patient_factory(organisation=hospital))
    assert queue_due().messages == count


def answer_after(seconds: float) -> Any:
    def answer(seen: Any) -> tuple[int, Any]:
        time.sleep(seconds)
        return 200, {"Code": "OK", "BizId": seen.query["OutId"]}

    return answer


def test_a_slow_provider_does_not_let_another_worker_claim_the_batch(
    provider: ProviderServer,
    clock: None,
    no_running_loop: None,
    patient_factory: Any,
    hospital: Any,
    short_lease: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aliyun(provider)
    provider.answer = answer_after(2 * LEASE)
    queue_reminders(1, patient_factory, hospital)
    started, renew = time.monotonic(), sending.keep
    second_worker: list[int] = []

    def let_another_worker_try_then_keep(flights: Any) -> None:
        if time.monotonic() - started > LEASE * 1.2:  # the first lease would have run out
            second_worker.append(len(claim(10)[1]))
        renew(flights)

    monkeypatch.setattr(sending, "keep", let_another_worker_try_then_keep)
    assert send_due().sent == 1
    assert second_worker and set(second_worker) == {0}  # tried while waiting, got nothing
    assert len(provider.seen) == 1
    message = Message.objects.get()
    assert (message.status, message.tries, message.lease_until) == (Message.Status.SENT, 1, None)


@pytest.fixture
def claimed(
    provider: ProviderServer,
    at_noon: datetime,
    no_running_loop: None,
    patient_factory: Any,
    hospital: Any,
) -> sending.InFlight:
    """A reminder claimed by this worker, its request not yet sent."""
    aliyun(provider)
    provider.answer = answer_after(0)
    queue_reminders(1, patient_factory, hospital)
    flight = send_next()
    assert flight is not None
    return flight


def test_a_request_whose_claim_ran_out_is_not_sent_but_left_for_the_next_claim(
    provider: ProviderServer, at_noon: datetime, claimed: sending.InFlight
) -> None:
    flight = claimed
    flight.hold.until = time.monotonic()  # the worker was stopped until its claim ran out
    assert finish(flight).results == {flight.messages[0].pk: sending.LEASE_RAN_OUT}
    assert provider.seen == []
    message = Message.objects.get()
    assert (message.status, message.tries) == (Message.Status.SENDING, 0)  # no try counted
    assert claim(10)[1] == []  # the lease still runs at the database
    later = at_noon + sending.lease() + timedelta(seconds=1)
    _token, again = claim(10, now=later)
    assert [m.pk for m in again] == [message.pk]


def test_a_claim_that_ran_out_and_was_taken_over_is_not_taken_back(
    provider: ProviderServer, at_noon: datetime, claimed: sending.InFlight
) -> None:
    flight = claimed
    # The worker was stopped longer than the lease, and another worker took the message.
    flight.hold.until = flight.renew_at = time.monotonic()
    later = at_noon + sending.lease() + timedelta(seconds=1)
    other_worker, taken = claim(10, now=later)
    assert len(taken) == 1
    assert finish(flight).sent == 0
    assert provider.seen == []  # the first worker sends nothing more of that batch
    message = Message.objects.get()
    assert (message.status, message.worker) == (Message.Status.SENDING, other_worker)


def test_the_next_batch_is_held_while_the_worker_records_the_one_before(
    provider: ProviderServer,
    clock: None,
    no_running_loop: None,
    patient_factory: Any,
    hospital: Any,
    short_lease: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aliyun(provider)
    provider.answer = answer_after(0.05)
    for _ in range(3):
        make_task(patient_factory(organisation=hospital))
    record, queue, second_worker = sending.record_results, queueing.queue_due, []

    def slow_record(*args: Any, **kwargs: Any) -> Any:
        time.sleep(LEASE / 2)  # long steps while the next batch is out: recording this one,
        return record(*args, **kwargs)

    def slow_queue(*args: Any, **kwargs: Any) -> Any:
        time.sleep(LEASE / 2)  # then queueing more (one at a time: nothing queued waits)
        second_worker.extend(claim(10)[1])
        return queue(*args, **kwargs)

    monkeypatch.setattr(sending, "record_results", slow_record)
    monkeypatch.setattr(queueing, "queue_due", slow_queue)
    totals = dispatch(seconds=10, batch=1)
    assert second_worker == []
    assert totals["sent"] == 3
    assert len(provider.seen) == 3


def test_a_batch_sent_without_http_is_held_while_it_is_sent(
    clock: None,
    patient_factory: Any,
    hospital: Any,
    short_lease: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue_reminders(4, patient_factory, hospital)
    plain, second_worker = Outbox.send, []

    def slow_send(self: Outbox, message: Any) -> Any:  # an SMTP session each
        time.sleep(LEASE / 3)
        second_worker.extend(claim(10)[1])
        return plain(self, message)

    monkeypatch.setattr(Outbox, "send", slow_send)
    assert send_due(batch=4).sent == 4
    assert second_worker == []


def test_a_renewal_never_shortens_a_lease(at_noon: datetime, claimed: sending.InFlight) -> None:
    far = at_noon + timedelta(hours=1)  # as left by a clock that has since stepped back
    Message.objects.update(lease_until=far)
    claimed.renew_at = time.monotonic()  # due
    sending.keep([claimed])
    assert Message.objects.get().lease_until == far
    assert claimed.renew_at > time.monotonic()  # renewed, still held
    assert finish(claimed).sent == 1


def test_a_renewal_that_fails_leaves_the_batch_recorded_as_far_as_it_went(
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    short_lease: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue_reminders(2, patient_factory, hospital)
    went_out, plain, update = [], Outbox.send, QuerySet.update

    def slow_send(self: Outbox, message: Any) -> Any:  # an SMTP session each
        went_out.append(message.key)
        time.sleep(LEASE / 2)  # a renewal is due before the next
        return plain(self, message)

    def renewal_fails(self: QuerySet[Any], **values: Any) -> int:
        if isinstance(values.get("lease_until"), Greatest):  # the database is busy or gone
            raise OperationalError("database is locked")
        return update(self, **values)

    monkeypatch.setattr(Outbox, "send", slow_send)
    monkeypatch.setattr(QuerySet, "update", renewal_fails)
    result = send_due(batch=2)
    assert len(went_out) == 1  # the second is not sent: its claim could not be kept
    assert result.sent == 1  # and the first is recorded, not left to be sent again
    assert Message.objects.get(key=went_out[0]).status == Message.Status.DELIVERED
    left = Message.objects.exclude(key=went_out[0]).get()
    assert (left.status, left.tries) == (Message.Status.SENDING, 0)  # for the next claim

"""Sending a batch's requests concurrently over kept-alive connections: at most a set
number in flight, each message's request built, sent and its answer parsed by the
transport. ``Connections`` keeps one event loop and its connections for a whole dispatch
round, so that batches share them and overlap with the worker's database work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from careloop.outreach.models import Message
from careloop.outreach.transports import HttpTransport, Outgoing, Receipt, TransportError
from careloop.outreach.transports.http import AsyncClient

logger = logging.getLogger("careloop.outreach.http")
Answers = dict[int, Receipt | TransportError]
Pairs = list[tuple[Message, HttpTransport]]
Waiter = Callable[[float | None], Answers | None]

# The answer for a request not sent because the batch's claim had run out first: the message
# is left as it is, for whoever claims it next (no try is counted).
LEASE_RAN_OUT = TransportError(
    "the claim ran out before the message was sent", permanent=False, code="lease"
)


class Hold:
    """Until when (``time.monotonic()``) a batch's claim holds as its worker sees it; moved on
    when the worker renews the lease. A request still waiting for its turn then is not sent:
    another worker may have claimed the message by then."""

    def __init__(self, until: float = float("inf")) -> None:
        self.until = until


def outgoing(message: Message) -> Outgoing:
    return Outgoing(
        key=message.key,
        to=message.to,
        text=message.body,
        subject=message.subject,
        template_code=message.template_code,
        params=message.params,
        link=message.link,
        keys=message.keys,
    )


class _Batch:
    """A batch's answers as they come in; ``done`` holds them all once the last is in."""

    def __init__(self, done: asyncio.Future[Answers], size: int, hold: Hold) -> None:
        self.done, self.left, self.hold = done, size, hold
        self.answers: Answers = {}

    def answer(self, pk: int, result: Receipt | TransportError) -> None:
        self.answers[pk] = result
        self.left -= 1
        if not self.left and not self.done.done():
            self.done.set_result(self.answers)


class Lanes:
    """At most ``limit`` requests in flight over ``client``'s connections, for any number
    of batches: up to ``limit`` worker coroutines take the waiting requests in turn. (A
    task per request behind a semaphore cost three times as much CPU in the event loop.)"""

    def __init__(self, client: AsyncClient, limit: int, loop: asyncio.AbstractEventLoop):
        self.client, self.limit, self.loop = client, limit, loop
        self.waiting: deque[tuple[Message, HttpTransport, _Batch]] = deque()
        self.running = 0  # workers not yet returned (a finished task leaves ``workers`` late)
        self.workers: set[asyncio.Task[None]] = set()  # referenced while they run

    def start(self, pairs: Pairs, hold: Hold | None = None) -> asyncio.Future[Answers]:
        """Queue the requests of ``pairs``; the future holds their answers by message id."""
        done: asyncio.Future[Answers] = self.loop.create_future()
        if not pairs:
            done.set_result({})
            return done
        batch = _Batch(done, len(pairs), hold or Hold())
        self.waiting.extend((message, transport, batch) for message, transport in pairs)
        for _ in range(min(self.limit - self.running, len(self.waiting))):
            self.running += 1
            worker = self.loop.create_task(self._work())
            self.workers.add(worker)
            worker.add_done_callback(self.workers.discard)
        return done

    async def _work(self) -> None:
        try:
            await self._take_turns()
        finally:
            self.running -= 1

    async def _take_turns(self) -> None:
        while self.waiting:
            message, transport, batch = self.waiting.popleft()
            result: Receipt | TransportError
            if time.monotonic() >= batch.hold.until:
                batch.answer(message.pk, LEASE_RAN_OUT)
                continue
            try:
                result = await self._send(message, transport)
            except TransportError as error:
                result = error
            except Exception as error:  # a fault of ours: this message fails, not the batch
                logger.error("sending %s failed: %s", message.key, type(error).__name__)
                result = TransportError(
                    f"internal error: {type(error).__name__}", permanent=True, code="internal"
                )
            batch.answer(message.pk, result)

    async def _send(self, message: Message, transport: HttpTransport) -> Receipt:
        request = transport.build(outgoing(message))
        try:
            return transport.parse(await self.client.request(request))
        except TransportError as error:
            if not error.renew:
                raise
        # The access token had expired: a new one (one fetch for the whole batch), once more.
        await transport.renew_async(self.client, request)
        return transport.parse(await self.client.request(transport.build(outgoing(message))))


async def send_http(pairs: Pairs, concurrency: int, hold: Hold | None = None) -> Answers:
    """Send ``pairs`` over connections of their own, closed at the end."""
    client = AsyncClient()
    try:
        return await Lanes(client, concurrency, asyncio.get_running_loop()).start(pairs, hold)
    finally:
        await client.aclose()


def run_coroutine(coroutine: Any) -> Any:
    """``asyncio.run``, also from a thread where an event loop is already running (an async
    caller, a test harness): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class _RoundLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock stands still while it is not running. The worker runs it
    only while it waits for answers; a request's timeout must count that time, not the
    database work in between, or an answer already in would be taken for a timeout (and the
    message sent again)."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = 0.0
        self.stopped_at: float | None = None

    def time(self) -> float:
        return super().time() - self.paused

    def run(self, awaitable: Any) -> Any:
        if self.stopped_at is not None:
            self.paused += time.monotonic() - self.stopped_at
        try:
            return self.run_until_complete(awaitable)
        finally:
            self.stopped_at = time.monotonic()


class Connections:
    """The provider connections of a dispatch round: one event loop and one pool of
    kept-alive connections, so that
    - a batch after the first sends over the connections the earlier ones opened (opening
      hundreds again for each batch cost a sixth of the sending CPU), and
    - the worker stores one batch's answers and claims the next while the requests of
      the next are with the provider: the loop runs only while the worker waits for a
      batch's answers, and the requests it sent meanwhile go on at the provider's end.
    No thread: the database is only used while the loop is not running (Django refuses it
    from a running loop). Batches share one limit (CARELOOP_SEND_CONCURRENCY). Close it at
    the end of the round (``with closing(Connections())``)."""

    def __init__(self) -> None:
        self.loop: _RoundLoop | None = None
        self.client: AsyncClient | None = None
        self.lanes: Lanes | None = None

    def start(self, pairs: Pairs, concurrency: int, hold: Hold | None = None) -> Waiter:
        """Send ``pairs``; returns how to wait for their answers: ``wait(timeout)`` gives
        them, or None when ``timeout`` seconds pass first (the sends go on)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:  # called from async code: in a thread, with a client of its own, now
            answers: Answers = run_coroutine(send_http(pairs, concurrency, hold))
            return lambda timeout: answers
        if self.loop is None or self.lanes is None:
            self.loop, self.client = _RoundLoop(), AsyncClient()
            self.lanes = Lanes(self.client, concurrency, self.loop)
        loop, coming = self.loop, self.lanes.start(pairs, hold)

        def wait(timeout: float | None) -> Answers | None:
            if not coming.done():
                loop.run(asyncio.wait([coming], timeout=timeout))
            return coming.result() if coming.done() else None

        return wait

    def send(self, pairs: Pairs, concurrency: int) -> Answers:
        answers = self.start(pairs, concurrency)(None)
        assert answers is not None  # waited without a timeout
        return answers

    def pump(self) -> None:
        """Let the loop deal with what has come in meanwhile (answers read, the next
        requests sent as places free up), without waiting for anything more."""
        if self.loop is not None and self.lanes is not None and self.lanes.running:
            self.loop.run(asyncio.sleep(0.002))

    def close(self) -> None:
        if self.loop is None:
            return
        left = asyncio.all_tasks(self.loop)
        if left:  # a round that broke off: its sends are given up (their leases run out)
            for sending in left:
                sending.cancel()
            self.loop.run(asyncio.wait(left))
        if self.client is not None:
            self.loop.run(self.client.aclose())
        self.loop.run(self.loop.shutdown_asyncgens())
        self.loop.close()
        self.loop = self.client = self.lanes = None

"""Background job of outreach: due automated follow-ups become messages and are sent."""

from __future__ import annotations

import time
from contextlib import closing, suppress

from django_tasks import task

from careloop import heap

ROUND_SECONDS = 50.0  # the job runs every minute; it stops taking new batches after this


def dispatch(seconds: float = ROUND_SECONDS, batch: int | None = None) -> dict[str, int]:
    """Queue due tasks and send due messages in batches until none is left or time is up.
    While one batch waits for the provider's answers, the next is queued and claimed."""
    from django.conf import settings

    from careloop.outreach.http_batches import Connections
    from careloop.outreach.queueing import Queued, queue_due
    from careloop.outreach.sending import Sent, finish, keep, send_next
    from careloop.outreach.staff_notify import deliver, notify_new_owners

    batch = batch or settings.CARELOOP_SEND_BATCH
    totals = {"queued": 0, "sent": 0, "retry": 0, "failed": 0}
    totals["staff_notified"] = notify_new_owners()
    totals["staff_delivered"] = deliver()
    until = time.monotonic() + seconds
    with closing(Connections()) as connections:
        flight = following = None
        try:
            while True:
                taking = time.monotonic() < until
                keep([flight])  # its claim holds while the worker is at other things
                queued = queue_due(limit=batch) if taking else Queued()
                keep([flight])
                connections.pump()  # answers read meanwhile, the next requests sent
                following = (
                    send_next(batch, connections=connections, others=[flight]) if taking else None
                )
                connections.pump()
                sent = finish(flight, [following]) if flight is not None else Sent()
                flight, following = following, None
                connections.pump()
                totals["queued"] += queued.messages
                totals["sent"] += sent.sent
                totals["retry"] += sent.retry
                totals["failed"] += sent.failed
                heap.settle_once()  # in a worker: the first round has loaded what it keeps
                if flight is None and not (queued.messages or queued.passed_on or sent.results):
                    break
        except Exception:
            # Record what went out before giving up: otherwise those messages would be sent
            # again once their lease runs out (an e-mail, for one, twice).
            for left, other in ((flight, following), (following, None)):
                if left is not None:
                    with suppress(Exception):
                        finish(left, [other])
            raise
    return totals


@task()
def dispatch_messages() -> dict[str, int]:
    """Every minute. Safe to run in several workers at once (claims with leases)."""
    return dispatch()

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


@task()
def draft_reply(reply_id: int) -> bool:
    """Ask the hospital's language model for a draft answer to a reply still to be read
    (docs/knowledge.md); whether one was stored."""
    from careloop.outreach.assistant import draft_answer
    from careloop.outreach.faq import entries_for, rank
    from careloop.outreach.models import Reply
    from careloop.outreach.queueing import hospital_name

    reply = Reply.objects.select_related("patient__organisation").filter(pk=reply_id).first()
    if reply is None or reply.patient is None or not reply.needs_reading or reply.draft_answer:
        return False
    closest = rank(reply.text, entries_for(reply.patient.organisation))[:5]
    hospital = hospital_name(reply.patient.organisation_id, {})
    text = draft_answer(reply.text, hospital, [entry for _score, entry in closest])
    if text is None:
        return False
    return bool(Reply.objects.filter(pk=reply.pk, draft_answer="").update(draft_answer=text))

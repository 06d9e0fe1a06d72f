"""Results a laboratory sends again for the same order replace the ones it sent before.

HL7 v2 (chapter 7) reports an order's results again under the same filler order number
(OBR-3): preliminary then final, a correction (OBX-11 C), a withdrawal (X, D, W), or the same
report re-sent under a new control id after a re-check. Each such result is the laboratory's
current word on that item of that order: the earlier one of the same item is removed before
it is stored (as a reprocess removes what a message stored before), with its critical-value
alert if nobody has picked it up yet (an alert already acknowledged or handled stays, with its
history). Without this, a potassium of 6.9 the laboratory corrected to 4.2 stayed on the
record beside the correction, with its alert open, and a preliminary and its final result
were two results with two alerts. The raw messages keep what was sent each time.

An order is the same when its filler (else placer) number is the same and its specimen time
(OBR-7, the report's time; a correction repeats it) within 12 hours of the earlier one's: a
laboratory whose sample numbers start again each day does not replace yesterday's results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import DiagnosticReport, Observation, Source
from careloop.followup.models import Alert, AlertEvent
from careloop.followup.models.alerts import OPEN_STATUSES
from careloop.interop.webhook_events import alert_events, alerts_withdrawn
from careloop.system_texts import RESULT_SENT_AGAIN, stored

SAME_ORDER_WITHIN = timedelta(hours=12)

# (kind, system, code): a result's item, by the sender's own code when it has one (a
# mapping added between two messages must not make the same item two), else by LOINC.
Item = tuple[str, str, str]


def same_order(reported_at: datetime, earlier: datetime) -> bool:
    """Whether two reports under one order number are of one order (see the module)."""
    return abs(reported_at - earlier) <= SAME_ORDER_WITHIN


def item_of(local_system: str, local_code: str, code: str) -> Item:
    return ("local", local_system, local_code) if local_code else ("loinc", "", code)


@dataclass(frozen=True)
class Sent:
    """Results about to be stored for one order of one patient, from one message."""

    message_id: int  # only what messages received before it sent is replaced
    patient_id: int
    source_id: int  # the sending system: order numbers are each laboratory's own
    order_number: str
    reported_at: datetime
    items: frozenset[Item]


def replace_earlier(sent: Iterable[Sent]) -> int:
    """Remove the earlier results (from messages received before) of the items ``sent``
    reports again; returns how many were removed. Call inside the transaction that stores
    the new ones. A message imported again after a later one about its order (a failed
    result reprocessed once its correction was in) replaces nothing: both are kept."""
    orders = [s for s in sent if s.order_number and s.items]
    if not orders:
        return 0
    by_order: dict[tuple[int, int, str], list[Sent]] = {}
    for s in orders:
        by_order.setdefault((s.patient_id, s.source_id, s.order_number[:64]), []).append(s)
    # The earlier reports of these orders first (few: found by patient), then their results.
    reports = (
        DiagnosticReport.objects.filter(
            patient_id__in={s.patient_id for s in orders},
            filler_order_number__in={s.order_number[:64] for s in orders},
            source=Source.HL7,
            source_message_id__lt=max(s.message_id for s in orders),
        )
        .filter(source_message__source_id__in={s.source_id for s in orders})
        .values_list(
            "pk",
            "source_message_id",
            "patient_id",
            "source_message__source_id",
            "filler_order_number",
            "effective_at",
        )
    )
    replacing: dict[int, list[Sent]] = {}  # an earlier report → what replaces its results
    for pk, message_id, patient_id, source_id, number, reported_at in reports:
        found = [
            s
            for s in by_order.get((patient_id, source_id, number), ())
            if message_id < s.message_id and same_order(s.reported_at, reported_at)
        ]
        if found:
            replacing[pk] = found
    if not replacing:
        return 0
    gone: list[int] = []
    emptied: set[int] = set()
    for pk, report_id, *code in Observation.objects.filter(
        report_id__in=list(replacing)
    ).values_list("pk", "report_id", "local_system", "local_code", "code"):
        item = item_of(*code)
        if any(item in s.items for s in replacing[report_id]):
            gone.append(pk)
            emptied.add(report_id)
    if not gone:
        return 0
    unhandled = Alert.objects.filter(observation_id__in=gone, status=Alert.Status.OPEN)
    alerts_withdrawn(unhandled.values_list("pk", flat=True), stored(RESULT_SENT_AGAIN))
    unhandled.delete()
    # Whoever is handling one already is told, on the alert, that its value is gone.
    alert_events(
        AlertEvent.objects.bulk_create(
            AlertEvent(alert_id=pk, action="note", from_status=status, to_status=status, note=note)
            for note in [stored(RESULT_SENT_AGAIN)]
            for pk, status in Alert.objects.filter(
                observation_id__in=gone, status__in=OPEN_STATUSES
            ).values_list("pk", "status")
        )
    )
    Observation.objects.filter(panel_id__in=gone).delete()
    Observation.objects.filter(pk__in=gone).delete()
    # A report whose every result was sent again is the new report's: not kept empty.
    DiagnosticReport.objects.filter(pk__in=emptied, observations__isnull=True).delete()
    return len(gone)


def sent_again(
    message_id: int,
    patient_id: int,
    source_id: int,
    order_number: str,
    reported_at: datetime,
    results: Iterable[ResultInput],
) -> Sent:
    """An order's results (as ``ResultInput``s) as ``replace_earlier`` takes them."""
    items = frozenset(item_of(r.local_system, r.local_code, r.loinc) for r in results)
    return Sent(message_id, patient_id, source_id, order_number, reported_at, items)


class SentAgainInBatch(Exception):
    """Two messages of one batch report the same item of one order (a result and its
    correction, waiting together): imported one by one instead, in the order received, so
    the later replaces the earlier."""

"""Critical values reported on first occurrence only (REFERENCE §4.5: ALT / AST ≥ 300 U/L).

Grading knows no history, so it marks such a critical result ``first_only``; the code that
stores results, which can read the record, grades it abnormal (H / L) instead when the
patient already has a critical result of the item taken in the 30 days before it (a cancelled
one does not count), or an earlier one in the same batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime, timedelta

from careloop.clinical.assessment import Assessment

REPEAT_NOTE = "30天内已报告过该项目的危急值，本次按异常处理（该项目仅首次出现时为危急值）"
# "First occurrence" within an episode: a critical ALT a year after the last one is news.
EPISODE = timedelta(days=30)


def settle_repeats(
    results: Iterable[tuple[Hashable, int | None, Assessment]], *, exclude: int | None = None
) -> int:
    """``results``: (the person within the batch, their patient id or None when the batch
    enrols them, assessment), in the order received. Returns how many were graded down.
    One query, and only when a first-only critical value is among them; ``exclude``: an
    observation being corrected, which is not its own earlier occurrence."""
    from careloop.clinical.models import Observation

    wanted = [(person, pk, a) for person, pk, a in results if a.first_only and a.critical]
    if not wanted:
        return 0
    patients = {pk for _, pk, _ in wanted if pk is not None}
    # (person, code) → when each of their critical results of it was taken
    earlier: dict[tuple[Hashable, str], list[datetime]] = {}
    if patients:
        since = min(a.fields["effective_at"] for _, _, a in wanted) - EPISODE
        stored = Observation.objects.filter(
            patient_id__in=patients,
            code__in={a.fields["code"] for _, _, a in wanted},
            critical=True,
            effective_at__gte=since,
        ).exclude(status=Observation.Status.CANCELLED)
        if exclude is not None:
            stored = stored.exclude(pk=exclude)
        by_patient = {pk: person for person, pk, _ in wanted if pk is not None}
        for pk, code, at in stored.values_list("patient_id", "code", "effective_at"):
            earlier.setdefault((by_patient[pk], code), []).append(at)
    demoted = 0
    for person, _, assessment in wanted:
        key, at = (person, assessment.fields["code"]), assessment.fields["effective_at"]
        if any(abs(at - before) <= EPISODE for before in earlier.get(key, ())):
            demote(assessment)
            demoted += 1
        else:
            earlier.setdefault(key, []).append(at)
    return demoted


def demote(assessment: Assessment) -> None:
    """A repeated first-only critical value: abnormal, not critical, and saying why."""
    assessment.lower(REPEAT_NOTE)

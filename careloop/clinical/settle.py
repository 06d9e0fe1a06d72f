"""What the patient's record changes about a result's grade, settled by the code that stores
results (grading reads only the result): first the critical values of the groups known from
the record (``patient_groups``), then those reported on first occurrence only (``repeats``),
which must see the grades the groups gave."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from careloop.clinical.assessment import Assessment
from careloop.clinical.patient_groups import settle_groups
from careloop.clinical.repeats import settle_repeats


def settle(
    results: Iterable[tuple[Hashable, int | None, Assessment]], *, exclude: int | None = None
) -> None:
    """``results``: (the person within the batch, their patient id or None when the batch
    enrols them, assessment), in the order received; ``exclude``: an observation being
    corrected (not its own earlier occurrence). A query each, only when needed."""
    results = list(results)
    settle_groups((pk, assessment) for _person, pk, assessment in results)
    settle_repeats(results, exclude=exclude)

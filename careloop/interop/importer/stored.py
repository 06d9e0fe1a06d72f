"""Results of a sheet that are stored already: the same exam exported again in another file,
or first received over HL7 or FHIR. A result counts as stored when its patient has one with
the same item (LOINC code, else the sender's code, else the item's name), time and value; it
is not stored twice."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Set
from datetime import datetime

from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Observation
from careloop.clinical.panels import pressures
from careloop.interop.importer.rows import Cell, ParsedRow


def _value_key(value: float | None, comparator: str, text: str) -> Hashable:
    return ("n", comparator, value) if value is not None else ("t", text)


def drop_stored(
    rows: list[ParsedRow],
    patient_of: Callable[[ParsedRow], int],
    catalogued: Callable[[str], object],
    new: Set[int] = frozenset(),
) -> list[ParsedRow]:
    """Take from each row the results its patient already has, or an earlier of the rows
    gives (two rows apart only in a column not imported, such as 序号: the result is stored
    once); returns the rows left with none (to be counted, not stored). ``new``: patients
    with nothing stored yet (just enrolled), not looked up."""
    patients = {patient_of(row) for row in rows} - new
    times = {row.effective_at for row in rows if row.effective_at is not None}
    if not times:
        return []
    stored: set[tuple[int, datetime, str, Hashable]] = set()
    for patient, when, code, local, name, value, comparator, text in Observation.objects.filter(
        patient_id__in=patients, effective_at__in=times
    ).values_list(
        "patient_id",
        "effective_at",
        "code",
        "local_code",
        "name",
        "value",
        "comparator",
        "value_text",
    ):
        key = _value_key(value, comparator, text)
        item = code or (f"local:{local}" if local else f"name:{name}")
        stored.add((patient, when, item, key))

    def is_stored(row: ParsedRow, cell: Cell) -> bool:
        if catalogued(cell.code):
            code = cell.code
        else:  # as the import stores it: the sender's code, or else the item's name
            code = f"local:{cell.code[:50]}" if cell.code else f"name:{cell.name[:200]}"
        assert row.effective_at is not None
        value = _value_key(cell.value, cell.comparator[:2], cell.text)
        key = (patient_of(row), row.effective_at, code, value)
        if key in stored:
            return True
        stored.add(key)  # taken from this row: stored already for a later one
        # A blood pressure sent as one value (138/88): stored already when its two pressures
        # are (received as a FHIR panel's components, or as HL7 8480-6 and 8462-4).
        given = ResultInput(cell.name, row.effective_at, loinc=code, text=cell.text)
        parts = pressures(given) if cell.value is None else []
        return bool(parts) and all(
            (key[0], key[1], p.loinc, _value_key(p.value, "", "")) in stored for p in parts
        )

    emptied = []
    for row in rows:
        if not row.results:
            continue
        row.results = [cell for cell in row.results if not is_stored(row, cell)]
        if not row.results:
            emptied.append(row)
    return emptied

"""What every FHIR resource type shares: validation, references, search parameters."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, QueryDict
from django.utils import timezone
from pydantic import ValidationError

from careloop.ids import row_id
from careloop.interop import patient_locks
from careloop.interop.fhir import versions
from careloop.interop.fhir.outcome import FhirError, from_pydantic, required
from careloop.interop.times import EARLIEST_YEAR, too_early
from careloop.patients.access import get_patient_for
from careloop.patients.models import Patient

_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def fhir_datetime(value: str | None, path: str) -> datetime | None:
    """A FHIR dateTime: with a time it needs a time zone; a date alone ("2026-12-01", also
    "2026-12" or "2026") is valid FHIR and read as the start of that day, month or year in
    the local time zone."""
    if not value:
        return None
    if partial := _PARTIAL_DATE.fullmatch(value):
        year, month, day = (int(part) if part else 1 for part in partial.groups())
        try:
            moment = datetime(year, month, day, tzinfo=timezone.get_current_timezone())
        except ValueError as exc:
            raise FhirError(
                422, f"{path}: {value!r} is not a date", code="value", expression=[path]
            ) from exc
        return _not_too_early(moment, value, path)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FhirError(
            422, f"{path}: {value!r} is not a date-time", code="value", expression=[path]
        ) from exc
    if moment.tzinfo is None:
        raise FhirError(
            422, f"{path}: a date-time needs a time zone", code="value", expression=[path]
        )
    return _not_too_early(moment, value, path)


def _not_too_early(moment: datetime, value: str, path: str) -> datetime:
    if too_early(moment):
        raise FhirError(
            422, f"{path}: {value!r} is before {EARLIEST_YEAR}", code="value", expression=[path]
        )
    return moment


def require_permission(user: Any, permission: str) -> None:
    if not user.has_perm(permission):
        raise FhirError(403, "you do not have permission to do this", code="forbidden")


class References:
    """Resolves references: "Patient/12", or "urn:uuid:…" of a resource earlier in the
    same Bundle (its fullUrl)."""

    def __init__(self) -> None:
        self.created: dict[str, tuple[str, Model]] = {}
        self.found: set[str] = set()  # fullUrls of resources a conditional create found stored
        # The identifiers (system, value) of the Patients the Bundle enrols or finds, by fullUrl
        self.identified: list[tuple[set[tuple[str | None, str]], str]] = []

    def identify(self, full_url: str, patient: dict[str, Any]) -> None:
        """A Patient entry's identifiers: a conditional reference of a later entry
        ("Patient?identifier=system|value") names it, as FHIR resolves one in a transaction
        (it matched only stored patients, so a new patient's results were refused)."""
        numbers: set[tuple[str | None, str]] = {
            (str(i.get("system") or ""), str(i.get("value") or "").strip())
            for i in patient.get("identifier") or []
            if isinstance(i, dict)
        }
        if full_url and numbers:
            self.identified.append((numbers, full_url))

    def named_by(self, query: str) -> str | None:
        """The fullUrl of the one Patient entry a conditional reference's query names."""
        params = QueryDict(query)
        if set(params) != {"identifier"}:
            return None
        wanted = {token(value) for value in params.getlist("identifier")}
        hits = {url for numbers, url in self.identified if wanted <= numbers}
        return hits.pop() if len(hits) == 1 and next(iter(hits)) in self.created else None

    def add(self, full_url: str, resource_type: str, obj: Model, *, stored: bool = False) -> None:
        """``stored``: found already stored (a conditional create), so what refers to it is
        checked against the user's access as a plain reference would be."""
        if full_url:
            self.created[full_url] = (resource_type, obj)
            if stored:
                self.found.add(full_url)
            else:
                self.found.discard(full_url)

    def entry(self, full_url: str) -> tuple[tuple[str, Model], bool] | None:
        """What ``full_url`` names now (and whether it was found stored), to put back."""
        if full_url not in self.created:
            return None
        return self.created[full_url], full_url in self.found

    def put_back(self, full_url: str, entry: tuple[tuple[str, Model], bool] | None) -> None:
        """``full_url`` as ``entry`` (from :meth:`entry`) had it: an entry that failed after
        naming it is forgotten."""
        self.created.pop(full_url, None)
        self.found.discard(full_url)
        if entry is not None:
            (resource_type, obj), stored = entry
            self.add(full_url, resource_type, obj, stored=stored)

    def resolve(self, reference: str | None, resource_type: str, path: str) -> Model:
        if not reference:
            raise required(path)
        if reference in self.created:
            kind, obj = self.created[reference]
            if kind != resource_type:
                raise FhirError(
                    422, f"{path} must refer to a {resource_type}, not a {kind}", expression=[path]
                )
            return obj
        raise FhirError(
            422,
            f"{path}: {reference!r} is not a {resource_type} in this Bundle",
            code="not-found",
            expression=[path],
        )


def encounter_of(data: dict[str, Any], refs: References, patient_id: int | None, path: str) -> Any:
    """The visit ``data["encounter"]`` names ("Encounter/5" or an earlier entry's fullUrl),
    None when it names none: one of the patient's, or the resource is refused naming it (not
    stored without it)."""
    from careloop.clinical.models import Encounter

    reference = (data.get("encounter") or {}).get("reference")
    if not reference:
        return None
    encounter: Any = (
        refs.resolve(reference, "Encounter", path)
        if reference in refs.created
        else Encounter.objects.filter(pk=reference_id(reference, "Encounter", path)).first()
    )
    if not isinstance(encounter, Encounter) or not patient_id or encounter.patient_id != patient_id:
        raise FhirError(
            422,
            f"{path}: {reference!r} is not an encounter of this patient",
            code="not-found",
            expression=[path],
        )
    return encounter


def patient_of(resource_type: str, obj: Any) -> int | None:
    """The patient a stored resource is about: a Patient's own id, the others' patient."""
    return obj.pk if resource_type == "Patient" else getattr(obj, "patient_id", None)


def reference_id(reference: str, resource_type: str, path: str) -> int:
    match = re.fullmatch(rf"(?:.*/)?{resource_type}/(\d+)(?:/_history/[A-Za-z0-9.-]+)?", reference)
    if not match:
        raise FhirError(
            422, f"{path}: {reference!r} is not a reference to a {resource_type}", expression=[path]
        )
    return int(match[1])


@dataclass
class Prepared:
    """Creates checked and converted ahead of the transaction: ``write`` runs in it and
    returns the stored objects. ``objects``: the objects as they will be stored, when known
    beforehand, so later entries of a Bundle can refer to them."""

    write: Callable[[], list[Any]]
    objects: list[Any] | None = None


def indexed(index: int, error: FhirError) -> FhirError:
    """``error`` as the error of the ``index``-th of several resources."""
    error.item_index = index
    return error


class Handler:
    """One resource type: read, search, create, update, and its FHIR form."""

    resource_type: ClassVar[str]
    fhir_class: ClassVar[Any]  # the fhir.resources R4B class
    search_params: ClassVar[list[str]] = []

    def validate(self, data: Any) -> dict[str, Any]:
        """Structure and datatypes (fhir.resources, R4B classes): 400 when they fail."""
        if not isinstance(data, dict) or data.get("resourceType") != self.resource_type:
            found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
            raise FhirError(
                400, f"expected a {self.resource_type} resource, got {found!r}", code="structure"
            )
        try:
            self.fhir_class.model_validate(data)
        except ValidationError as error:
            raise FhirError(
                400,
                f"{self.resource_type} is not valid FHIR",
                issues=from_pydantic(self.resource_type, [dict(e) for e in error.errors()]),
            ) from error
        return data

    def queryset(self, user: Any) -> QuerySet[Any]:
        raise NotImplementedError

    def get(self, user: Any, pk: str) -> Any:
        # "²" is a digit int() refuses, 23 digits a number SQLite refuses: no row's id.
        row = row_id(pk) if pk.isdigit() else None
        if row is None:
            raise FhirError(404, f"{self.resource_type}/{pk} is not known", code="not-found")
        obj = self.queryset(user).filter(pk=row).first()
        if obj is None:
            raise FhirError(404, f"{self.resource_type}/{pk} is not known", code="not-found")
        return obj

    def to_fhir(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def served(self, obj: Any) -> dict[str, Any]:
        """The FHIR form as served: with its version (``meta.versionId``)."""
        return versions.stamped(self.to_fhir(obj))

    def search(self, user: Any, params: QueryDict) -> QuerySet[Any]:
        raise NotImplementedError

    def find(self, user: Any, params: QueryDict) -> QuerySet[Any]:
        """:meth:`search`, and ``_id`` (ids, "1,2": either), which every type has (on any
        type but Patient it was ignored, so Observation?_id=5 answered every result)."""
        queryset = self.search(user, params)
        for value in params.getlist("_id"):
            ids = [row_id(token(v)[1]) for v in either(value)]
            queryset = queryset.filter(pk__in=[i for i in ids if i is not None])
        return queryset

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Any:
        raise NotImplementedError

    def prepare_many(
        self, user: Any, items: list[dict[str, Any]], refs: References
    ) -> Prepared | None:
        """Creates of several resources with everything that needs no write lock done now
        (our rules, grading, new numbers); None when this type is only created by
        ``create`` inside the transaction."""
        return None

    def update(self, user: Any, obj: Any, data: dict[str, Any], refs: References) -> Any:
        raise FhirError(405, f"{self.resource_type} cannot be updated here", code="not-supported")

    # -- helpers for subclasses

    def patient(
        self, user: Any, data: dict[str, Any], refs: References, path: str, *, write: bool = True
    ) -> Patient:
        reference = (data.get("subject") or data.get("patient") or {}).get("reference")
        if reference and (query := conditional_query(reference)) is not None:
            reference = refs.named_by(query) or reference  # a Patient of this Bundle
        if reference and reference in refs.created:
            patient = refs.resolve(reference, "Patient", path)
            assert isinstance(patient, Patient)
            if reference not in refs.found:
                return patient  # enrolled by this Bundle
            pk = patient.pk
        elif reference and (query := conditional_query(reference)) is not None:
            pk = _the_one_matching(user, query, path)
        else:
            pk = reference_id(reference or "", "Patient", path)
        try:
            return get_patient_for(user, pk, write=write)
        except Http404 as exc:
            raise FhirError(
                422, f"{path}: Patient/{pk} is not known", code="not-found", expression=[path]
            ) from exc
        except PermissionDenied as exc:  # shared read-only: answered per entry, as FHIR
            raise FhirError(
                403, f"{path}: you may not change Patient/{pk}", code="forbidden"
            ) from exc


def unmoved(patient: Any, stored_patient_id: int, path: str) -> None:
    """An update names the patient the resource already belongs to: moving a result, a
    visit or a diagnosis would take it from a record the writer may only read, with what
    was decided from it (alerts, plans, risk results) left behind. Refused, not ignored (an
    Encounter or Condition naming another patient was answered 200 and left where it was)."""
    if patient.pk != stored_patient_id:
        raise FhirError(
            422,
            f"{path} cannot change (what is recorded stays in its patient's record)",
            code="value",
            expression=[path],
        )


def check_stored_writable(user: Any, patient_id: int, path: str) -> None:
    """An update changes the stored resource, in its patient's record: the writer must be
    allowed to change that record, whichever patient the new version names (a share that
    only lets them read does not)."""
    try:
        get_patient_for(user, patient_id, write=True)
    except Http404 as exc:
        raise FhirError(404, f"{path}: the stored resource is not known", code="not-found") from exc
    except PermissionDenied as exc:
        raise FhirError(
            403, f"{path}: you may not change Patient/{patient_id}", code="forbidden"
        ) from exc


def conditional_query(reference: str) -> str | None:
    """The query of a conditional reference "Patient?identifier=…" (None for others)."""
    match = CONDITIONAL_PATIENT.fullmatch(reference)
    return match[1] if match else None


def _the_one_matching(user: Any, query: str, path: str) -> int:
    """The patient (visible to ``user``) a conditional reference names: none is 422, more
    than one 412 (as FHIR's conditional operations answer)."""
    from careloop.interop.fhir.patient import matching_identifiers
    from careloop.patients.access import patients_for

    found = list(matching_identifiers(patients_for(user), query).values_list("pk", flat=True)[:2])
    if not found:
        raise FhirError(
            422, f"{path}: no Patient matches {query!r}", code="not-found", expression=[path]
        )
    if len(found) > 1:
        raise FhirError(
            412,
            f"{path}: more than one Patient matches {query!r}",
            code="multiple-matches",
            expression=[path],
        )
    return found[0]


# ---------------------------------------------------------------- search parameters

_DATE = re.compile(
    r"^(eq|ne|gt|lt|ge|le|sa|eb)?(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$"
)


_UNESCAPED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?) (\d{2}:\d{2})$")


def date_filter(field: str, values: list[str]) -> Q:
    """FHIR date search on one date or time: a period that begins and ends there."""
    return period_filter(field, field, values, open_ended=False)


def period_filter(start: str, end: str, values: list[str], *, open_ended: bool = True) -> Q:
    """FHIR date search against a Period (an encounter's stay; with ``open_ended``, no end
    yet: still going on); each value is a prefix and a date of any precision. Per the FHIR
    search rules a day "eq" matches a period inside that day; "ge", "le", "gt" and "lt" match
    a period that reaches past, or into, the range above or below it; "sa" and "eb" one that
    starts after or ends before it."""
    condition = Q()

    def or_ongoing(q: Q) -> Q:
        return q | Q(**{f"{end}__isnull": True}) if open_ended else q

    for value in values:
        # "+08:00" written into a URL unescaped arrives as " 08:00" (a "+" is a space in a
        # query): read as the offset it was (it was refused as not a date)
        match = _DATE.match(_UNESCAPED_OFFSET.sub(r"\1+\2", value.strip()))
        if not match:
            raise FhirError(
                400,
                f"date: {value!r} is not a FHIR date search value",
                code="value",
                expression=["date"],
            )
        prefix, year, month, day, hour, minute, second, zone = match.groups()
        low, high = _period(year, month, day, hour, minute, second, zone)
        inside = Q(**{f"{start}__gte": low, f"{end}__lt": high})
        condition &= {
            "eq": inside,
            "ne": ~inside,
            "gt": or_ongoing(Q(**{f"{end}__gte": high})),
            "ge": or_ongoing(Q(**{f"{end}__gte": low})),
            "lt": Q(**{f"{start}__lt": low}),
            "le": Q(**{f"{start}__lt": high}),
            "sa": Q(**{f"{start}__gte": high}),
            "eb": Q(**{f"{end}__lt": low}),
        }[prefix or "eq"]
    return condition


def _period(
    year: str,
    month: str | None,
    day: str | None,
    hour: str | None,
    minute: str | None,
    second: str | None,
    zone: str | None,
) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    if zone:
        tz = UTC if zone == "Z" else datetime.strptime(zone, "%z").tzinfo  # type: ignore[assignment]
    try:
        if hour is not None:
            start = datetime(
                int(year),
                int(month or 1),
                int(day or 1),
                int(hour),
                int(minute or 0),
                int(second or 0),
                tzinfo=tz,
            )
            return start, start + timedelta(seconds=1 if second else 60)
        first = date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise FhirError(400, "date: not a valid date", code="value", expression=["date"]) from exc
    if day:
        last = first + timedelta(days=1)
    elif month:
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        last = first.replace(year=first.year + 1)
    return (
        datetime.combine(first, datetime.min.time(), tzinfo=tz),
        datetime.combine(last, datetime.min.time(), tzinfo=tz),
    )


def either(value: str) -> list[str]:
    """A search value's alternatives: in FHIR search "a,b" means a or b ("\\," is a comma
    within a value). Searches that took "final,amended" as one status matched nothing."""
    return [part.replace("\\,", ",") for part in re.split(r"(?<!\\),", value)]


def any_of(values: Iterable[Q]) -> Q:
    """The conditions OR-ed (none: a condition nothing meets)."""
    first, *others = [*values] or [Q(pk__in=[])]
    for other in others:
        first |= other
    return first


def token(value: str) -> tuple[str | None, str]:
    """ "system|code" → (system, code); "code" → (None, code); "|code" → ("", code)."""
    if "|" in value:
        system, _, code = value.partition("|")
        return system, code
    return None, value


def patient_filter(params: QueryDict, field: str = "patient") -> Q | None:
    values = params.getlist("patient") + params.getlist("subject")
    if not values:
        return None
    ids = []
    for value in (alternative for given in values for alternative in either(given)):
        kind, _, value = value.rpartition("/")
        if kind and kind.rsplit("/", 1)[-1] != "Patient":
            continue  # "Group/5", "Device/5": no patient (it was taken for Patient/5)
        if not (value.isascii() and value.isdigit()):
            raise FhirError(
                400, f"patient: {value!r} is not a Patient id", code="value", expression=["patient"]
            )
        pk = row_id(value)
        if pk is not None:  # a number too long to be a row's id matches no one
            ids.append(pk)
    return Q(**{f"{field}_id__in": ids})


def patients_named(
    resources: Iterable[tuple[str, str, dict[str, Any]]], refs: References | None = None
) -> list[int]:
    """The stored patients these (resource type, id, resource) concern: a Patient's own id,
    the others' ``subject`` or ``patient`` reference "Patient/<id>", or the fullUrl of a
    Patient an earlier entry of a batch stored (``refs``). What they are locked by while
    their record is read and written (``careloop/interop/patient_locks.py``)."""
    created = refs.created if refs is not None else {}
    found: set[int] = set()
    for resource_type, pk, resource in resources:
        if resource_type == "Patient":
            if re.fullmatch("[0-9]+", pk):
                found.add(int(pk))
            continue
        for field in ("subject", "patient"):
            reference = resource.get(field)
            if not isinstance(reference, dict):
                continue
            text = str(reference.get("reference") or "")
            if match := PATIENT_REFERENCE.fullmatch(text):
                found.add(int(match[1]))
            elif (query := conditional_query(text)) is not None:
                found.update(_matching_ids(query))
            elif text in created:
                kind, obj = created[text]
                if kind == "Patient" and obj.pk:
                    found.add(obj.pk)
    return sorted(found)


@contextlib.contextmanager
def holding_patients(concerned: Callable[[], Iterable[int]]) -> Iterator[None]:
    """``patient_locks.holding_settled`` for a FHIR write: a patient another write keeps
    busy is answered 409 (``lock-error``), to be tried again."""
    try:
        with patient_locks.holding_settled(concerned):
            yield
    except patient_locks.PatientBusy as busy:
        raise FhirError(
            409,
            "another write is working on this patient's record; try again shortly",
            code="lock-error",
        ) from busy


# "Patient/5", "https://host/fhir/R4/Patient/5", "Patient/5/_history/1" (as reference_id reads)
PATIENT_REFERENCE = re.compile(r"(?:.*/)?Patient/([0-9]+)(?:/_history/[A-Za-z0-9.-]+)?")
# "Patient?identifier=urn:…|12345" (a conditional reference)
CONDITIONAL_PATIENT = re.compile(r"(?:.*/)?Patient\?(.+)", re.DOTALL)


LOCKED_AT_MOST = 20  # an identifier names one patient; more is a data error, answered 412


def _matching_ids(query: str) -> list[int]:
    """Whom a conditional reference may name, to lock them (the write checks access)."""
    from careloop.interop.fhir.patient import matching_identifiers

    try:
        matches = matching_identifiers(Patient.objects.all(), query)
        return list(matches.order_by("pk").values_list("pk", flat=True)[:LOCKED_AT_MOST])
    except FhirError:
        return []  # refused when the entry is read


def status_filter(params: QueryDict, allowed: set[str], ours: dict[str, str]) -> list[list[str]]:
    """Each ``status`` parameter (repeated: all must hold; "a,b": either) as our statuses.
    A FHIR code we never send matches nothing; a code outside the value set is a 400."""
    wanted = []
    for value in params.getlist("status"):
        statuses = []
        for code in (token(part)[1].strip() for part in value.split(",")):
            if code not in allowed:
                raise FhirError(
                    400,
                    f"status: {code!r} is not a status ({', '.join(sorted(allowed))})",
                    code="value",
                    expression=["status"],
                )
            statuses += [mine for mine, theirs in ours.items() if theirs == code]
        wanted.append(statuses)
    return wanted

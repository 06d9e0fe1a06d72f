"""Running rules: compiled once per version, evaluated for a batch of patients with one query
per kind of fact (patients, tags, readings), fired inside the caller's transaction.

* ``run_for_results``: the trigger "result saved", called where observations are stored
  (the HL7 processor's batch, FHIR, the spreadsheet import, the result form);
* ``sweep``: the scheduled rules ("no glucose reading for 3 days"), candidates found by one
  set-based query;
* ``dry_run``: a rule (saved or not) replayed over the last N days, nothing written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone, translation

from careloop.accounts.models import Organisation
from careloop.clinical import catalogue as catalogue_module
from careloop.clinical.models import Condition as Condition_
from careloop.clinical.models import Encounter, Observation, Procedure
from careloop.patients.identity import age_on
from careloop.patients.models import Patient, PatientTag, Tag
from careloop.rules.actions import Action, Enrol, compile_actions
from careloop.rules.assessments import CODES as ASSESSED_CODES
from careloop.rules.assessments import MODELS as ASSESSMENTS
from careloop.rules.assessments import NewAssessment, codes_read, current_categories, reassess
from careloop.rules.assessments import store as store_assessments
from careloop.rules.conditions import (
    All,
    Condition,
    Diagnosis,
    DigitalLiteracy,
    Discharged,
    Facts,
    HasTag,
    LivesAlone,
    LostRisk,
    NewDiagnosis,
    NoReading,
    NotReached,
    Reading,
    RecentProcedure,
    Risk,
    RuleError,
    compile_condition,
)
from careloop.rules.models import Rule, Trigger
from careloop.said import gettext_noop
from careloop.sql_lists import SHORT, in_sql, pg_array

logger = logging.getLogger("careloop.rules")
DEFAULT_HISTORY_DAYS = 400  # latest / consecutive / trend / change look this far back
BATCH = 500
READING_QUERIES = 4  # at most this many queries for a batch's readings, one per set of codes
# What a trigger needs has to exist before rules can run on it.
AVAILABLE_TRIGGERS = (
    Trigger.OBSERVATION,
    Trigger.SWEEP,
    Trigger.ENCOUNTER,
    Trigger.DIAGNOSIS,
    Trigger.QUESTIONNAIRE,
    Trigger.REPLY,
    Trigger.TASK_OUTCOME,
    Trigger.RECORD,
)
# Conditions that read what only one trigger brings: the answers submitted, the reply's symptoms.
KIND_TRIGGER = {
    "answer": Trigger.QUESTIONNAIRE,
    "symptom": Trigger.REPLY,
    "outcome": Trigger.TASK_OUTCOME,
}


@dataclass
class CompiledRule:
    pk: int | None
    code: str
    name: str
    version: int
    trigger: str
    organisation_path: str | None
    condition: Condition
    actions: list[Action]
    cooldown: timedelta
    codes: frozenset[str] = field(init=False)
    series_codes: frozenset[str] = field(init=False)
    reads_risk: bool = field(init=False)
    reads_record: bool = field(init=False)  # diagnoses, procedures, discharges
    reads_living: bool = field(init=False)  # lives alone, literacy, not reached, lost risk
    history_days: int = field(init=False)
    depth: int = field(init=False)

    def __post_init__(self) -> None:
        self.codes = frozenset(self.condition.codes())
        self.series_codes = frozenset(self.condition.series_codes())
        self.reads_risk = _reads(self.condition, (Risk,))
        self.reads_record = _reads(
            self.condition, (Diagnosis, NewDiagnosis, RecentProcedure, Discharged)
        )
        self.reads_living = _reads(
            self.condition, (LivesAlone, DigitalLiteracy, NotReached, LostRisk)
        )
        self.history_days = max(self.condition.history_days(), DEFAULT_HISTORY_DAYS)
        self.depth = max(self.condition.depth(), 1)

    def applies_to(self, organisation_path: str) -> bool:
        return self.organisation_path is None or organisation_path.startswith(
            self.organisation_path
        )


def _all_parts(condition: Condition) -> Iterator[Condition]:
    """The condition and, through all/any/not, every part inside it."""
    yield condition
    for child in [*getattr(condition, "parts", []), getattr(condition, "part", None)]:
        if child is not None:
            yield from _all_parts(child)


def _reads(condition: Condition, kinds: tuple[type, ...]) -> bool:
    """Whether any part of ``condition`` is of one of ``kinds``."""
    return any(isinstance(part, kinds) for part in _all_parts(condition))


def _refuse_unavailable(data: Any, trigger: str, path: str = "condition") -> None:
    if isinstance(data, dict):
        if data.get("kind") == "risk" and data.get("model") not in ASSESSMENTS:
            raise RuleError(
                f"{path}.model",
                gettext_noop("must be one of the models assessed automatically: %(models)s"),
                models=tuple(ASSESSMENTS),
            )
        needs = KIND_TRIGGER.get(data.get("kind", ""))
        if needs is not None and trigger != needs:
            raise RuleError(
                f"{path}.kind",
                gettext_noop(
                    "a “%(kind)s” condition can be used only in rules triggered by “%(trigger)s”"
                ),
                kind=data["kind"],
                trigger=needs.label,
            )
        for key in ("all", "any"):
            for i, part in enumerate(data.get(key) or []):
                _refuse_unavailable(part, trigger, f"{path}.{key}[{i}]")
        if "not" in data:
            _refuse_unavailable(data["not"], trigger, f"{path}.not")


def compile_definition(
    *,
    code: str,
    name: str,
    trigger: str,
    condition: Any,
    actions: Any,
    cooldown_hours: int = 24,
    version: int = 1,
    organisation_path: str | None = None,
    pk: int | None = None,
) -> CompiledRule:
    """Check a rule definition (as saved or as typed in a form); ``RuleError`` says what is
    wrong, with the path of the part."""
    if trigger not in Trigger.values:
        raise RuleError(
            "trigger", gettext_noop("unknown trigger %(trigger)s"), trigger=repr(trigger)
        )
    if trigger not in AVAILABLE_TRIGGERS:
        raise RuleError(
            "trigger",
            gettext_noop("the trigger “%(trigger)s” is not available in this version"),
            trigger=Trigger(trigger).label,
        )
    known = set(catalogue_module.current().items)
    compiled = compile_condition(condition, known_codes=known)
    _refuse_unavailable(condition, trigger)
    if trigger == Trigger.SWEEP and _sweep_codes(compiled) is None and not _tags_required(compiled):
        raise RuleError(
            "condition",
            gettext_noop(
                "a scheduled sweep rule must have “no result for N days” (no_reading) or a "
                "tag as its condition, or combine one with others under all"
            ),
        )
    return CompiledRule(
        pk,
        code,
        name,
        version,
        trigger,
        organisation_path,
        compiled,
        _check_pathways(compile_actions(actions)),
        timedelta(hours=cooldown_hours),
    )


def _check_pathways(actions: list[Action]) -> list[Action]:
    from careloop.followup.models import Pathway

    for i, action in enumerate(actions):
        if isinstance(action, Enrol) and not Pathway.objects.filter(code=action.pathway).exists():
            raise RuleError(
                f"actions[{i}].pathway",
                gettext_noop("there is no follow-up pathway with the code %(code)s"),
                code=repr(action.pathway),
            )
    return actions


def compile_rule(rule: Rule) -> CompiledRule:
    return compile_definition(
        code=rule.code,
        name=rule.name,
        trigger=rule.trigger,
        condition=rule.condition,
        actions=rule.actions,
        cooldown_hours=rule.cooldown_hours,
        version=rule.version,
        organisation_path=rule.organisation.path if rule.organisation else None,
        pk=rule.pk,
    )


_lock = threading.Lock()
_compiled: dict[str, tuple[list[tuple[Any, ...]], list[CompiledRule]]] = {}


def _stamp(trigger: str) -> list[tuple[Any, ...]]:
    """What tells a saved change of the trigger's enabled rules: each one's id, code,
    version and time of change. Written by hand: it runs with every batch of results (a
    FHIR Bundle, a result typed in), and Django took ~10× the query's own time to build
    it."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in ('id', 'code', 'version', 'updated_at'))} "  # noqa: S608
            f"FROM {quote(Rule._meta.db_table)} "
            f"WHERE {quote('enabled')} = %s AND {quote('trigger')} = %s ORDER BY {quote('id')}",
            [True, trigger],
        )
        return [tuple(row) for row in cursor.fetchall()]


def rules_for(trigger: str) -> list[CompiledRule]:
    """The enabled rules of a trigger, compiled once per saved version (one small query to
    see whether any changed)."""
    stamp = _stamp(trigger)
    with _lock:
        cached = _compiled.get(trigger)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    if not stamp:
        return []
    compiled = []
    for rule in Rule.objects.filter(enabled=True, trigger=trigger).select_related("organisation"):
        try:
            compiled.append(compile_rule(rule))
        except RuleError as error:  # e.g. a catalogue code removed since the rule was saved
            logger.warning("rule %s v%s skipped: %s", rule.code, rule.version, error)
    with _lock:
        _compiled[trigger] = (stamp, compiled)
    return compiled


# ---------------------------------------------------------------- facts


@dataclass
class Profile:
    sex: str
    birth_date: Any
    risk_tier: str
    organisation_path: str


@dataclass
class Pending:
    """Results not stored yet (patient id → code → readings), and the profiles of patients
    not enrolled yet (negative ids)."""

    readings: dict[int, dict[str, list[Reading]]] = field(default_factory=dict)
    profiles: dict[int, Profile] = field(default_factory=dict)


def pending_results(
    rows: Iterable[tuple[int, Mapping[str, Any]]], pending: Pending | None = None
) -> tuple[Pending, dict[int, set[str]]]:
    """Observations not stored yet — (patient id, the observation's fields) — as pending
    readings, and the new codes per patient (what ``evaluate_results`` takes)."""
    pending = pending or Pending()
    new_codes: dict[int, set[str]] = {}
    for pk, fields in rows:
        code = fields["code"]
        if not code or fields.get("status") == Observation.Status.CANCELLED:
            continue
        pending.readings.setdefault(pk, {}).setdefault(code, []).append(
            Reading(
                fields["effective_at"], fields["value_normalised"], fields["unit_normalised"], code
            )
        )
        new_codes.setdefault(pk, set()).add(code)
    return pending, new_codes


def abnormal_patients(rows: Iterable[tuple[int, Mapping[str, Any]]]) -> list[int]:
    """Patients with a result graded abnormal among ``rows`` (LOINC-coded or not): those
    the abnormal-result pathways look at once the results are stored."""
    return sorted(
        {
            pk
            for pk, fields in rows
            if fields.get("interpretation") not in ("", "N")
            and fields.get("status") != Observation.Status.CANCELLED
        }
    )


def load_facts(
    patient_ids: Iterable[int],
    codes: Iterable[str],
    *,
    now: datetime,
    history_days: int,
    no_reading_codes: Iterable[str] = (),
    until: datetime | None = None,
    risks: bool = True,
    record: bool = True,
    living: bool = True,
    pending: Pending | None = None,
    codes_of: Mapping[int, frozenset[str]] | None = None,
) -> tuple[dict[int, Facts], dict[int, Profile]]:
    """What rules may know of these patients: one query each for the patients, their tags,
    their readings of ``codes`` (``history_days`` back from ``now``, up to ``until``) and,
    for "no reading" conditions, their last reading of each such code ever. ``pending``:
    results about to be stored with the patients they are for (a negative id: a patient
    about to be enrolled), seen as if stored. ``codes_of``: the codes each patient's
    readings are needed of, when fewer than ``codes`` (one query per distinct set)."""
    pending = pending or Pending()
    wanted = list(patient_ids)
    ids = [pk for pk in wanted if pk > 0]  # the others are being enrolled: nothing stored
    codes = sorted(set(codes))
    catalogue = catalogue_module.current()
    names = {code: item.name for code, item in catalogue.items.items()}
    names_en = {code: item.name_en for code, item in catalogue.items.items() if item.name_en}
    since = now - timedelta(days=history_days)
    profiles, tags, readings, last = (
        _stored(ids, codes, since, until, no_reading_codes, codes_of) if ids else ({}, {}, {}, {})
    )
    profiles.update({pk: pending.profiles[pk] for pk in wanted if pk < 0})
    for pk, by_code in pending.readings.items():
        for code, new in by_code.items():
            if code in codes:
                mine = readings.setdefault(pk, {}).setdefault(code, [])
                mine.extend(new)
                mine.sort(key=lambda r: r.at)
    categories = current_categories(ids) if risks and ids else {}
    diagnoses, diagnosed_at, discharges, procedures = (
        _record(ids) if record and ids else ({}, {}, {}, {})
    )
    lives = _living(ids) if living and ids else {}
    facts = {}
    tz = timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    for pk, profile in profiles.items():
        facts[pk] = Facts(
            now=now,
            sex=profile.sex,
            age=age_on(profile.birth_date, today) if profile.birth_date else None,
            tags=frozenset(tags.get(pk, ())),
            risk_tier=profile.risk_tier,
            readings=readings.get(pk, {}),
            risks=categories.get(pk, {}),
            diagnoses=frozenset(diagnoses.get(pk, ())),
            diagnosed_at=diagnosed_at.get(pk, {}),
            last_discharge=discharges.get(pk),
            procedures=procedures.get(pk, ()),
            last_reading_at=last.get(pk, {}),
            names=names,
            names_en=names_en,
            tz=tz,
            **lives.get(pk, {}),
        )
    return facts, profiles


def _stored(
    ids: list[int],
    codes: list[str],
    since: datetime,
    until: datetime | None,
    no_reading_codes: Iterable[str],
    codes_of: Mapping[int, frozenset[str]] | None,
) -> tuple[
    dict[int, Profile],
    dict[int, set[str]],
    dict[int, dict[str, list[Reading]]],
    dict[int, dict[str, datetime]],
]:
    """What is stored of these patients for ``load_facts``: profiles (the living), tags,
    readings of ``codes`` since ``since``, the last reading of each "no reading" code."""
    members, listed = in_sql("p.id", ids)
    tagged_members, tagged_listed = in_sql("pt.patient_id", ids)
    patient, organisation, tagged, tag = (
        connection.ops.quote_name(model._meta.db_table)
        for model in (Patient, Organisation, PatientTag, Tag)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, p.sex, p.birth_date, p.risk_tier, o.path FROM {patient} p "  # noqa: S608
            f"JOIN {organisation} o ON o.id = p.organisation_id WHERE {members} "
            "AND p.deceased_on IS NULL",  # rules never act on a patient who has died
            listed,
        )
        profiles = {
            pk: Profile(sex, _date(birth), tier, path or "/")
            for pk, sex, birth, tier, path in cursor.fetchall()
        }
        cursor.execute(
            f"SELECT pt.patient_id, t.name FROM {tagged} pt "  # noqa: S608
            f"JOIN {tag} t ON t.id = pt.tag_id WHERE {tagged_members}",
            tagged_listed,
        )
        tags: dict[int, set[str]] = {}
        for pk, name in cursor.fetchall():
            tags.setdefault(pk, set()).add(name)
    readings: dict[int, dict[str, list[Reading]]] = {}
    for group, group_ids in _by_codes(ids, codes, codes_of).items():
        if group:
            readings.update(_readings(group_ids, sorted(group), since, until))
    last: dict[int, dict[str, datetime]] = {}
    if no_reading_codes:
        rows = Observation.objects.filter(patient_id__any_of=ids, code__in=list(no_reading_codes))
        if until is not None:
            rows = rows.filter(effective_at__lte=until)
        for pk, code, at in (
            rows.values("patient_id", "code")
            .annotate(last=Max("effective_at"))
            .values_list("patient_id", "code", "last")
        ):
            last.setdefault(pk, {})[code] = at
    return profiles, tags, readings, last


def _by_codes(
    ids: list[int], codes: list[str], codes_of: Mapping[int, frozenset[str]] | None
) -> dict[frozenset[str], list[int]]:
    """The patients grouped by the codes whose readings they need (all ``codes`` unless
    ``codes_of`` says fewer). Past ``READING_QUERIES`` distinct sets (lab panels of every
    shape over HL7), one query for all of them: a query per set would cost more than the
    rows it saves."""
    every = frozenset(codes)
    if codes_of is None:
        return {every: ids}
    groups: dict[frozenset[str], list[int]] = {}
    for pk in ids:
        groups.setdefault(codes_of.get(pk, every), []).append(pk)
    if len(groups) > READING_QUERIES:
        return {frozenset().union(*groups): ids}
    return groups


def _readings(
    ids: list[int], codes: list[str], since: datetime, until: datetime | None
) -> dict[int, dict[str, list[Reading]]]:
    """The patients' readings of ``codes`` since ``since`` (patient → code → oldest first):
    one plain query, its rows grouped as they come (the ORM's per-value conversion of
    100,000s of rows a second costs more than the SQL)."""
    table = connection.ops.quote_name(Observation._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    # The time as seconds since the epoch, made a datetime in C (exact to the microsecond in
    # a double at today's dates); parsing the text of each time costs more. SQLite keeps
    # "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC; its strftime('%s') would round the fraction.
    if connection.vendor == "postgresql":
        moment = "EXTRACT(EPOCH FROM effective_at)::float8"
    else:
        moment = "strftime('%%s', substr(effective_at, 1, 19)) + substr(effective_at, 21, 6) / 1e6"
    where = (
        f"code IN ({', '.join(['%s'] * len(codes))}) AND effective_at >= %s AND status <> %s"
        + (" AND effective_at <= %s" if until is not None else "")
    )
    params: list[Any] = [*codes, adapt(since), Observation.Status.CANCELLED]
    if until is not None:
        params.append(adapt(until))
    if connection.vendor == "postgresql" and len(ids) > SHORT:
        # Each patient through the index, whatever the planner believes of the table: right
        # after a burst of new patients (an HL7 feed) its statistics are stale, and a list
        # this long was planned as a hash join over a scan of the whole table (~50 ms for
        # 200 patients instead of ~1 ms). OFFSET 0 keeps the planner from flattening the
        # lateral subquery into that join.
        sql = (
            f"SELECT p.id, o.code, o.at, o.value_normalised, o.unit_normalised "  # noqa: S608
            f"FROM unnest(%s::bigint[]) AS p(id) CROSS JOIN LATERAL ("
            f"SELECT code, {moment} AS at, value_normalised, unit_normalised, id "
            f"FROM {table} WHERE patient_id = p.id AND {where} OFFSET 0) AS o "
            "ORDER BY p.id, o.code, o.at, o.id"
        )
        params = [pg_array(sorted(set(ids))), *params]
    else:
        members, listed = in_sql("patient_id", ids)
        sql = (
            f"SELECT patient_id, code, {moment}, value_normalised, unit_normalised "  # noqa: S608
            f"FROM {table} WHERE {members} AND {where} "
            "ORDER BY patient_id, code, effective_at, id"
        )
        params = [*listed, *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    stamp = datetime.fromtimestamp
    make = tuple.__new__  # Reading(…) goes through a Python-level __new__: ~15% slower
    return {
        pk: {
            code: [
                make(Reading, (stamp(at, UTC), value, unit, code))
                for _, _, at, value, unit in series
            ]
            for code, series in groupby(of_patient, itemgetter(1))
        }
        for pk, of_patient in groupby(rows, itemgetter(0))
    }


def _record(
    ids: list[int],
) -> tuple[
    dict[int, set[str]],
    dict[int, dict[str, datetime]],
    dict[int, datetime],
    dict[int, tuple[tuple[datetime, str, bool], ...]],
]:
    """Current diagnoses (ICD-10 codes), when each code was first known (onset date, else
    first recorded; resolved diagnoses too), the end of the last inpatient stay, and the
    procedures (when done, code, whether an operation; newest first)."""
    diagnoses: dict[int, set[str]] = {}
    first: dict[int, dict[str, datetime]] = {}
    tz = timezone.get_current_timezone()
    for pk, code, status, onset, recorded in Condition_.objects.filter(
        patient_id__any_of=ids
    ).values_list("patient_id", "icd10_code", "clinical_status", "onset_date", "recorded_at"):
        if status != Condition_.ClinicalStatus.RESOLVED:
            diagnoses.setdefault(pk, set()).add(code)
        known = datetime.combine(onset, time.min, tz) if onset is not None else recorded
        mine = first.setdefault(pk, {})
        if code not in mine or known < mine[code]:
            mine[code] = known
    discharges = dict(
        Encounter.objects.filter(
            patient_id__any_of=ids, kind=Encounter.Kind.INPATIENT, ended_at__isnull=False
        )
        .exclude(status=Encounter.Status.CANCELLED)  # a stay the HIS cancelled (ADT^A11)
        .values("patient_id")
        .annotate(last=Max("ended_at"))
        .values_list("patient_id", "last")
    )
    procedures: dict[int, list[tuple[datetime, str, bool]]] = {}
    for pk, at, code, surgery in (
        Procedure.objects.filter(patient_id__any_of=ids)
        .order_by("-performed_at")
        .values_list("patient_id", "performed_at", "code", "is_surgery")
    ):
        procedures.setdefault(pk, []).append((at, code, surgery))
    return (
        diagnoses,
        first,
        discharges,
        {pk: tuple(done) for pk, done in procedures.items()},
    )


def _living(ids: list[int]) -> dict[int, dict[str, Any]]:
    """How the patients live (alone, digital literacy) and when follow-ups were closed not
    reached: ``Facts`` fields by patient."""
    from careloop.followup.models import Task

    living: dict[int, dict[str, Any]] = {
        pk: {"lives_alone": alone, "digital_literacy": literacy}
        for pk, alone, literacy in Patient.objects.filter(pk__any_of=ids).values_list(
            "pk", "lives_alone", "digital_literacy"
        )
    }
    missed: dict[int, list[datetime]] = {}
    for pk, closed in Task.objects.filter(
        patient_id__any_of=ids, status=Task.Status.FAILED, closed_at__isnull=False
    ).values_list("patient_id", "closed_at"):
        if closed is not None:
            missed.setdefault(pk, []).append(closed)
    for pk, moments in missed.items():
        living.setdefault(pk, {})["not_reached"] = tuple(sorted(moments))
    from careloop.followup.models import LostRiskScore

    for pk, chance in LostRiskScore.objects.filter(patient_id__any_of=ids).values_list(
        "patient_id", "probability"
    ):
        living.setdefault(pk, {})["lost_risk"] = chance
    return living


def _date(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _no_reading_codes(rules: Iterable[CompiledRule]) -> set[str]:
    return {
        code
        for rule in rules
        for part in _all_parts(rule.condition)
        if isinstance(part, NoReading)
        for code in part.code
    }


def facts_for(
    rules: list[CompiledRule],
    patient_ids: Iterable[int],
    *,
    now: datetime,
    extra_codes: Iterable[str] = (),
    extra_days: int = 0,
    until: datetime | None = None,
    pending: Pending | None = None,
    codes_of: Mapping[int, frozenset[str]] | None = None,
) -> tuple[dict[int, Facts], dict[int, Profile]]:
    """``load_facts`` for what ``rules`` read: their codes and history, the last reading of
    "no reading" codes, stored risk and diagnoses/discharges only when a rule asks."""
    return load_facts(
        patient_ids,
        set().union(extra_codes, *(r.series_codes for r in rules)),
        now=now,
        history_days=max([DEFAULT_HISTORY_DAYS, *(r.history_days for r in rules)]) + extra_days,
        no_reading_codes=_no_reading_codes(rules),
        until=until,
        risks=any(r.reads_risk for r in rules),
        record=any(r.reads_record for r in rules),
        living=any(r.reads_living for r in rules),
        pending=pending,
        codes_of=codes_of,
    )


def _codes_needed(new: frozenset[str], rules: list[CompiledRule]) -> frozenset[str]:
    """The codes one patient's readings are needed of, given the codes of its new results:
    those of the rules asked about them and of the risk models they feed."""
    asked = (rule.codes | rule.series_codes for rule in rules if not rule.codes or rule.codes & new)
    return frozenset().union(*asked, codes_read(new))


# ---------------------------------------------------------------- matching


@dataclass
class Match:
    rule: CompiledRule
    patient_id: int
    at: datetime
    reasons: list[str]
    seen: dict[str, Any]
    about: datetime | None = None  # the reading it is about, when not simply the newest


def _seen(rule: CompiledRule, facts: Facts) -> dict[str, Any]:
    """What the rule looked at, kept with the firing."""
    readings = {
        code: [
            [r.at.isoformat(), r.value, r.unit] for r in facts.readings.get(code, [])[-rule.depth :]
        ]
        for code in sorted(rule.codes)
    }
    seen: dict[str, Any] = {"readings": readings, "age": facts.age, "sex": facts.sex}
    if facts.tags:
        seen["tags"] = sorted(facts.tags)
    if facts.risk_tier:
        seen["risk_tier"] = facts.risk_tier
    if facts.last_reading_at:
        seen["last_reading_at"] = {c: t.isoformat() for c, t in facts.last_reading_at.items()}
    return seen


def evaluate(
    rules: list[CompiledRule],
    facts: dict[int, Facts],
    profiles: dict[int, Profile],
    new_codes: dict[int, set[str]] | None = None,
    *,
    for_reader: bool = False,
) -> list[Match]:
    """Every (rule, patient) that matches. With ``new_codes`` (the trigger "result saved"),
    a rule is only asked about patients with a new result of a code it reads.

    The reasons are written in the default language, as they are stored with the firing and
    its alert (whoever's request or import fired it); ``for_reader`` (a dry run, read and
    not stored): in the active language."""
    matches = []
    with nullcontext() if for_reader else translation.override(settings.LANGUAGE_CODE):
        for pk, given in facts.items():
            path = profiles[pk].organisation_path
            for rule in rules:
                if not rule.applies_to(path):
                    continue
                if (
                    new_codes is not None
                    and rule.codes
                    and not (rule.codes & new_codes.get(pk, set()))
                ):
                    continue
                outcome = rule.condition.evaluate(given)
                if outcome.matched:
                    seen = _seen(rule, given)
                    about = outcome.about
                    if about is not None:  # the reading it is about, maybe not the newest
                        seen["about"] = about.at.isoformat()
                        seen["about_reading"] = [about.at.isoformat(), about.value, about.unit]
                    matches.append(
                        Match(
                            rule,
                            pk,
                            given.now,
                            outcome.reasons,
                            seen,
                            about=about.at if about is not None else None,
                        )
                    )
    return matches


@dataclass
class Evaluation:
    """What new results lead to: assessments to store and rules that match."""

    assessments: list[NewAssessment] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    patients: list[int] = field(default_factory=list)  # who had new abnormal results


def evaluate_results(
    new_codes: dict[int, set[str]],
    *,
    now: datetime | None = None,
    pending: Pending | None = None,
) -> Evaluation:
    """For patients with new results (patient id → codes): the risk models those results
    feed, re-run, and the rules of the trigger "result saved" that match (seeing the new
    assessments). Reads only, so it can run outside the write lock when the results are
    already stored, or are given as ``pending``; ``apply`` writes what it found."""
    rules = rules_for(Trigger.OBSERVATION)
    found = Evaluation()
    if not new_codes or not (rules or any(codes & ASSESSED_CODES for codes in new_codes.values())):
        return found
    now = now or timezone.now()
    ids = sorted(new_codes)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        wanted = {c for pk in chunk for c in new_codes[pk]}
        relevant = [r for r in rules if not r.codes or r.codes & wanted]
        assessed = codes_read(frozenset(wanted))
        if not relevant and not assessed:
            continue
        kinds = {frozenset(new_codes[pk]) for pk in chunk}  # a few distinct sets
        needed = {codes: _codes_needed(codes, relevant) for codes in kinds}
        facts, profiles = facts_for(
            relevant,
            chunk,
            now=now,
            extra_codes=assessed,
            pending=pending,
            codes_of={pk: needed[frozenset(new_codes[pk])] for pk in chunk},
        )
        new = reassess(
            {pk: new_codes[pk] for pk in chunk},
            readings={pk: f.readings for pk, f in facts.items()},
            profiles={pk: (p.sex, p.birth_date) for pk, p in profiles.items()},
            now=now,
        )
        for assessment in new:
            facts[assessment.patient_id].risks[assessment.model] = assessment.category
        found.assessments += new
        found.matches += evaluate(relevant, facts, profiles, new_codes)
    return found


def apply(
    found: Evaluation,
    *,
    trigger: str = Trigger.OBSERVATION,
    enrolled: Mapping[int, int] | None = None,
) -> int:
    """Store the assessments and fire the matches (inside a transaction); returns how many
    rules fired. ``enrolled``: the ids patients evaluated under a negative id (``Pending``)
    were given when saved."""
    from careloop.rules.firing import fire

    ids = enrolled or {}
    for assessment in found.assessments:
        assessment.patient_id = ids.get(assessment.patient_id, assessment.patient_id)
    for match in found.matches:
        match.patient_id = ids.get(match.patient_id, match.patient_id)

    store_assessments(found.assessments)
    if trigger == Trigger.OBSERVATION and found.patients:
        from careloop.followup.triggers import queue_abnormal

        queue_abnormal([ids.get(pk, pk) for pk in found.patients])
    return fire(found.matches, trigger=trigger)


def run_for_results(
    new_codes: dict[int, set[str]],
    *,
    abnormal: Iterable[int] = (),
    now: datetime | None = None,
) -> int:
    """New results: re-assess risk and run the rules (and, after commit, the abnormal-result
    pathways for the ``abnormal`` patients). Call inside the transaction that stored the
    results; returns how many rules fired."""
    found = evaluate_results(new_codes, now=now)
    found.patients = sorted(set(abnormal))
    return apply(found)


def run_for_event(trigger: str, patient_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """The triggers "admission or discharge" and "diagnosis added", for these patients:
    the pathways they trigger (``followup.triggers``), then the rules. Call inside the
    transaction that recorded the event; returns how many rules fired."""
    from careloop.followup.triggers import on_clinical_event
    from careloop.rules.firing import fire

    ids = sorted(set(patient_ids))
    on_clinical_event(trigger, ids, now=now)
    if trigger == Trigger.DIAGNOSIS:  # diabetes, ASCVD: inputs of the record's risk models
        from careloop.rules.assessments import reassess_records

        reassess_records(ids, now=now)
    rules = rules_for(trigger)
    if not rules or not ids:
        return 0
    now = now or timezone.now()
    facts, profiles = facts_for(rules, ids, now=now)
    return fire(evaluate(rules, facts, profiles), trigger=trigger)


def run_for_record(patient_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """The trigger "patient record changed" (enrolled, details changed: lives alone,
    digital literacy …): the rules of that trigger for these patients. Call inside the
    transaction that changed the record; returns how many rules fired."""
    from careloop.rules.firing import fire

    rules = rules_for(Trigger.RECORD)
    ids = sorted(set(patient_ids))
    if not rules or not ids:
        return 0
    now = now or timezone.now()
    facts, profiles = facts_for(rules, ids, now=now)
    return fire(evaluate(rules, facts, profiles), trigger=Trigger.RECORD)


def run_for_answers(
    trigger: str,
    patient_id: int,
    *,
    answers: Mapping[str, Mapping[str, Any]] | None = None,
    symptoms: Iterable[str] = (),
    outcome: str = "",
    now: datetime | None = None,
) -> int:
    """A questionnaire submitted (``answers``: code → item → answer), a reply read
    (``symptoms``) or a follow-up outcome recorded (``outcome``): the rules of that trigger
    for the patient. Call inside the transaction
    that stored it; returns how many rules fired."""
    from careloop.rules.firing import fire

    rules = rules_for(trigger)
    if not rules:
        return 0
    now = now or timezone.now()
    facts, profiles = facts_for(rules, [patient_id], now=now)
    if patient_id not in facts:
        return 0
    facts[patient_id] = replace(
        facts[patient_id], answers=answers or {}, symptoms=frozenset(symptoms), outcome=outcome
    )
    return fire(evaluate(rules, facts, profiles), trigger=trigger)


# ---------------------------------------------------------------- sweep


def _sweep_codes(condition: Condition) -> list[NoReading] | None:
    """The "no reading" parts a sweep can find candidates by: the condition itself, or
    parts of a top-level all."""
    if isinstance(condition, NoReading):
        return [condition]
    if isinstance(condition, All) and type(condition) is All:
        parts = [p for p in condition.parts if isinstance(p, NoReading)]
        return parts or None
    return None


def _tags_required(condition: Condition) -> list[str]:
    """The tags a condition requires: itself a tag, or ``tag`` parts of a top-level all."""
    if isinstance(condition, HasTag):
        return [condition.tag]
    if type(condition) is All:
        return [p.tag for p in condition.parts if isinstance(p, HasTag)]
    return []


def sweep_candidates(rule: CompiledRule, now: datetime) -> list[int]:
    """Patients whose last reading of the code is at least N days old: one GROUP BY over
    the observations (the index on patient, code, time), never a loop over patients. Tags
    the rule requires (``tag`` parts of a top-level all) narrow it in the same query; a rule
    with no "no reading" part sweeps the living patients with its tags (a tag to take off
    once it no longer holds, 新确诊 after three months)."""
    parts = _sweep_codes(rule.condition) or []
    required = _tags_required(rule.condition)
    if not parts:
        tagged = PatientTag.objects.filter(patient__deceased_on__isnull=True)
        found_tags: set[int] | None = None
        for name in required:
            ids = set(tagged.filter(tag__name=name).values_list("patient_id", flat=True))
            found_tags = ids if found_tags is None else found_tags & ids
        return sorted(found_tags or ())
    found: set[int] | None = None
    for part in parts:
        cutoff = now - timedelta(days=part.days)
        rows = Observation.objects.filter(
            code__in=part.code, effective_at__lte=now, patient__deceased_on__isnull=True
        )
        for name in required:
            rows = rows.filter(
                patient_id__in=PatientTag.objects.filter(tag__name=name).values("patient_id")
            )
        ids = set(
            rows.values("patient_id")
            .annotate(last=Max("effective_at"))
            .filter(last__lte=cutoff)
            .values_list("patient_id", flat=True)
        )
        found = ids if found is None else found & ids
    return sorted(found or ())


def sweep_matches(*, now: datetime | None = None) -> list[Match]:
    """What the scheduled rules match now; reads only (no write lock needed)."""
    now = now or timezone.now()
    matches: list[Match] = []
    for rule in rules_for(Trigger.SWEEP):
        ids = sweep_candidates(rule, now)
        for start in range(0, len(ids), BATCH):
            facts, profiles = facts_for([rule], ids[start : start + BATCH], now=now)
            matches += evaluate([rule], facts, profiles)
    return matches


# The sweeps' advisory lock (two int4 keys): the scheduler's namespace ("CS"), key 3 (1 is
# the scheduler's, 2 the migrations').
SWEEP_LOCK = (0x4353, 3)


def sweep(*, now: datetime | None = None) -> int:
    """Run the scheduled rules; returns how many fired. Who matches is read first, without
    the write lock; firing is one sweep at a time across the deployment (two at once — the
    hourly job and an operator's ``careloop rules sweep``, or two jobs that waited behind a
    long one — would each see no firing of the other's and fire every rule twice): the
    second waits for the first's commit, and its quiet periods then hold."""
    from django.db import transaction

    from careloop.rules.firing import fire

    matches = sweep_matches(now=now)
    with transaction.atomic():
        if connection.vendor == "postgresql":  # SQLite: one writing transaction at a time
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", SWEEP_LOCK)
        return fire(matches, trigger=Trigger.SWEEP)


# ---------------------------------------------------------------- dry run


def dry_run(rule: CompiledRule, *, days: int, now: datetime | None = None) -> list[Match]:
    """Who the rule would have matched over the last ``days`` days, nothing written: a
    result rule is replayed at each result of a code it reads (seeing only the results known
    then), a sweep rule once a day at 08:00, an admission/discharge or diagnosis rule at each
    such event (diagnoses and discharges as recorded now). One match per patient: the
    first."""
    now = now or timezone.now()
    start = now - timedelta(days=days)
    if rule.trigger == Trigger.SWEEP:
        moments_by_patient: dict[int, list[datetime]] = {}
        day = timezone.localtime(start).replace(hour=8, minute=0, second=0, microsecond=0)
        while day <= now:
            for pk in sweep_candidates(rule, day):
                moments_by_patient.setdefault(pk, []).append(day)
            day += timedelta(days=1)
    elif rule.trigger in (Trigger.ENCOUNTER, Trigger.DIAGNOSIS):
        moments_by_patient = _event_moments(rule.trigger, start, now)
    elif rule.trigger == Trigger.RECORD:  # records changed in the period, as they are now
        moments_by_patient = {
            pk: [min(changed, now)]
            for pk, changed in Patient.objects.filter(
                updated_at__range=(start, now), deceased_on__isnull=True
            ).values_list("pk", "updated_at")
        }
    elif rule.trigger in (Trigger.REPLY, Trigger.QUESTIONNAIRE, Trigger.TASK_OUTCOME):
        return _replay(rule, start, now)
    else:
        moments_by_patient = {}
        rows = Observation.objects.filter(effective_at__gte=start, effective_at__lte=now)
        if rule.codes:
            rows = rows.filter(code__in=rule.codes)
        for pk, at in rows.order_by("effective_at").values_list("patient_id", "effective_at"):
            moments_by_patient.setdefault(pk, []).append(at)
    matches = []
    ids = sorted(moments_by_patient)
    per_moment = rule.trigger != Trigger.OBSERVATION or bool(_no_reading_codes([rule]))
    for begin in range(0, len(ids), BATCH):
        chunk = ids[begin : begin + BATCH]
        if not per_moment:  # one load for the chunk, then what was known at each moment
            loaded, profiles = facts_for([rule], chunk, now=now, extra_days=days, until=now)
        for pk in chunk:
            for moment in moments_by_patient[pk]:
                if per_moment:
                    facts, profiles = facts_for([rule], [pk], now=moment, until=moment)
                else:
                    facts = {pk: _as_of(loaded[pk], moment)} if pk in loaded else {}
                found = evaluate([rule], facts, profiles, for_reader=True)
                if found:
                    matches.append(found[0])
                    break
    return matches


def _stored_events(trigger: str, start: datetime, now: datetime) -> list[tuple[int, Any, dict]]:
    """(patient, when, what the trigger brought) for the replies read, questionnaires
    answered or follow-up outcomes recorded between ``start`` and ``now``, oldest first."""
    if trigger == Trigger.REPLY:
        from careloop.outreach.models import Reply

        return [
            (pk, at, {"symptoms": frozenset(found or ())})
            for pk, at, found in Reply.objects.filter(
                patient__isnull=False, received_at__range=(start, now)
            )
            .order_by("received_at")
            .values_list("patient_id", "received_at", "symptoms")
        ]
    if trigger == Trigger.QUESTIONNAIRE:
        from careloop.questionnaires.models import QuestionnaireResponse

        return [
            (pk, at, {"answers": {code: answers}})
            for pk, at, code, answers in QuestionnaireResponse.objects.filter(
                submitted_at__range=(start, now)
            )
            .order_by("submitted_at")
            .values_list("patient_id", "submitted_at", "version__questionnaire__code", "answers")
        ]
    from careloop.followup.models import FollowUpRecord

    return [
        (pk, at, {"outcome": outcome})
        for pk, at, outcome in FollowUpRecord.objects.filter(at__range=(start, now))
        .order_by("at")
        .values_list("patient_id", "at", "outcome")
    ]


def _replay(rule: CompiledRule, start: datetime, now: datetime) -> list[Match]:
    """A reply, questionnaire or outcome rule at each such stored event, with what it
    brought; one match per patient (the first)."""
    matches: list[Match] = []
    seen: set[int] = set()
    for pk, moment, brought in _stored_events(rule.trigger, start, now):
        if pk in seen:
            continue
        facts, profiles = facts_for([rule], [pk], now=moment, until=moment)
        if pk not in facts:
            continue
        found = evaluate([rule], {pk: replace(facts[pk], **brought)}, profiles, for_reader=True)
        if found:
            matches.append(found[0])
            seen.add(pk)
    return matches


def _event_moments(trigger: str, start: datetime, now: datetime) -> dict[int, list[datetime]]:
    """When admissions and discharges (or new diagnoses, by their date, and procedures)
    happened."""
    moments: dict[int, list[datetime]] = {}
    if trigger == Trigger.ENCOUNTER:
        for pk, began, ended in (
            Encounter.objects.filter(
                Q(started_at__range=(start, now)) | Q(ended_at__range=(start, now))
            )
            .exclude(status=Encounter.Status.CANCELLED)
            .values_list("patient_id", "started_at", "ended_at")
        ):
            for moment in (began, ended):
                if moment is not None and start <= moment <= now:
                    moments.setdefault(pk, []).append(moment)
    else:
        tz = timezone.get_current_timezone()
        for pk, day in Condition_.objects.filter(
            onset_date__range=(start.astimezone(tz).date(), now.astimezone(tz).date())
        ).values_list("patient_id", "onset_date"):
            if day is None:
                continue
            moment = datetime.combine(day, time(12), tzinfo=tz)
            moments.setdefault(pk, []).append(min(moment, now))
        for pk, done in Procedure.objects.filter(performed_at__range=(start, now)).values_list(
            "patient_id", "performed_at"
        ):
            moments.setdefault(pk, []).append(done)
    return {pk: sorted(times) for pk, times in moments.items()}


def _as_of(facts: Facts, moment: datetime) -> Facts:
    return replace(
        facts,
        now=moment,
        readings={
            code: [r for r in series if r.at <= moment] for code, series in facts.readings.items()
        },
    )

"""Demo data (``careloop demo``): organisations, one staff user per role, synthetic patients.

Idempotent: organisations and users are looked up by code and user name, and patient ``i``
has a fixed card number, so a second run adds only what is missing (and ``--patients``
can grow the set). Patients are written in bulk, a batch per transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from careloop.accounts.models import Organisation, Team, User
from careloop.accounts.roles import Role
from careloop.bulk import insert_rows
from careloop.care.programmes import load_programmes
from careloop.clinical.models import Condition, Encounter, Source
from careloop.demo.followup import enrol_demo_patients
from careloop.demo.history import add_demo_history
from careloop.demo.lectures import add_demo_lectures
from careloop.demo.people import demo_card_number, person, rng_for
from careloop.demo.record import demo_record
from careloop.demo.results import add_demo_results, add_home_glucose
from careloop.fields import index_field
from careloop.followup.exam_packages import load_packages
from careloop.followup.pathways import load_pack as load_pathway_pack
from careloop.outreach.faq_pack import load_faq_pack
from careloop.patients.identity import phone_kind
from careloop.patients.models import (
    Allergy,
    ConsentRecord,
    FamilyHistory,
    Lifestyle,
    Medication,
    Patient,
    PatientContact,
    PatientIdentifier,
)
from careloop.questionnaires.services import load_pack as load_questionnaire_pack
from careloop.rules.pack import load_pack

BATCH = 1000

# code, name, kind, parent code
ORGANISATIONS = [
    ("DEMO-H1", "示范市第一人民医院", Organisation.Kind.HOSPITAL, None),
    ("DEMO-H1-CARD", "心血管内科", Organisation.Kind.DEPARTMENT, "DEMO-H1"),
    ("DEMO-H1-ENDO", "内分泌科", Organisation.Kind.DEPARTMENT, "DEMO-H1"),
    ("DEMO-H1-EXAM", "健康体检中心", Organisation.Kind.EXAM_CENTRE, "DEMO-H1"),
    ("DEMO-C1", "示范市和平街道社区卫生服务中心", Organisation.Kind.COMMUNITY_CENTRE, None),
    ("DEMO-C1-FD1", "和平街道家庭医生第一团队", Organisation.Kind.FAMILY_DOCTOR_TEAM, "DEMO-C1"),
]
TEAMS = [
    ("DEMO-H1-CARD", "心内科随访组"),
    ("DEMO-H1-ENDO", "内分泌随访组"),
    ("DEMO-C1", "慢病管理组"),
]
# user name, full name, role, organisation code, team name. The doctors and the health
# manager are each the responsible one of every demo patient of their hospital or centre, so
# they belong to it (not a department or team below it, whose staff would not see them all).
STAFF = [
    ("admin", "系统管理员", Role.ADMIN, "DEMO-H1", None),
    ("supervisor", "周主管", Role.SUPERVISOR, "DEMO-H1", None),
    ("nurse", "王护士", Role.NURSE, "DEMO-H1", "心内科随访组"),
    ("doctor", "李医生", Role.DOCTOR, "DEMO-H1", "心内科随访组"),
    ("manager", "陈健康管理师", Role.HEALTH_MANAGER, "DEMO-H1", None),
    ("coordinator", "赵协调员", Role.COORDINATOR, "DEMO-H1", None),
    ("cnurse", "刘护士", Role.NURSE, "DEMO-C1", "慢病管理组"),
    ("fdoctor", "孙医生", Role.DOCTOR, "DEMO-C1", "慢病管理组"),
]
# Where demo patient i is cared for, by i % 10.
PLACEMENT = [
    "DEMO-H1-CARD",
    "DEMO-H1-CARD",
    "DEMO-H1-ENDO",
    "DEMO-H1-ENDO",
    "DEMO-H1",
    "DEMO-H1-EXAM",
    "DEMO-H1-EXAM",
    "DEMO-C1",
    "DEMO-C1-FD1",
    "DEMO-C1-FD1",
]


@dataclass
class DemoResult:
    new_logins: dict[str, str] = field(default_factory=dict)
    usernames: list[str] = field(default_factory=list)
    patients_created: int = 0
    patients_total: int = 0


def ensure_structure(result: DemoResult) -> dict[str, Any]:
    """Organisations, teams and staff (new staff get a random password, returned once)."""
    orgs: dict[str, Organisation] = {}
    for code, name, kind, parent in ORGANISATIONS:
        org = Organisation.objects.filter(code=code).first()
        if org is None:
            org = Organisation(  # a city north of the Yangtze (China-PAR's region)
                code=code,
                name=name,
                kind=kind,
                parent=orgs[parent] if parent else None,
                region_north=True,
                urban=True,
            )
            org.save()
        orgs[code] = org
    teams: dict[str, Team] = {}
    for code, name in TEAMS:
        teams[name], _ = Team.objects.get_or_create(organisation=orgs[code], name=name)
    from django.contrib.auth.models import Group

    users: dict[str, User] = {}
    for username, full_name, role, org_code, team in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User(
                username=username,
                display_name=full_name,
                organisation=orgs[org_code],
                is_staff=role == Role.ADMIN,
                is_superuser=role == Role.ADMIN,
            )
            user.set_password(password)
            user.save()
            user.groups.add(Group.objects.get(name=role))
            if team:
                user.teams.add(teams[team])
            result.new_logins[username] = password
        users[username] = user
        result.usernames.append(username)
    return {"orgs": orgs, "teams": teams, "users": users}


def load_demo(patients: int, progress: Callable[[int, int], None] | None = None) -> DemoResult:
    result = DemoResult()
    with transaction.atomic():
        structure = ensure_structure(result)
        load_pack()  # the default rules run on the demo results as they are stored
        load_pathway_pack()
        load_questionnaire_pack()
        load_programmes()
        load_faq_pack()
        load_packages()
    for start in range(0, patients, BATCH):
        indices = list(range(start, min(patients, start + BATCH)))
        cards = [demo_card_number(i) for i in indices]
        existing = set(
            Patient.objects.filter(card_number__in=cards).values_list("card_number", flat=True)
        )
        todo = [i for i, card in zip(indices, cards, strict=True) if card not in existing]
        if todo:
            with transaction.atomic():
                _create_patients(todo, structure)
                _tag_how_they_live([demo_card_number(i) for i in todo])
                add_demo_results(todo, dict(zip(indices, cards, strict=True)))
                add_home_glucose(todo, dict(zip(indices, cards, strict=True)))
                enrol_demo_patients([demo_card_number(i) for i in todo])
                add_demo_history(todo, dict(zip(indices, cards, strict=True)))
            result.patients_created += len(todo)
        if progress:
            progress(indices[-1] + 1, patients)
    with transaction.atomic():
        add_demo_lectures(structure)
    if result.patients_created:
        # As after any bulk load: fresh planner statistics, or the database may plan the
        # first hours of real use as if the tables were empty.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    result.patients_total = Patient.objects.filter(  # demo cards start with 9 (people.py)
        organisation__code__in=[code for code, *_ in ORGANISATIONS], card_number__startswith="9"
    ).count()
    return result


def _tag_how_they_live(cards: list[str]) -> None:
    """The record rules (独居, 数字素养低) for the patients just loaded in bulk, as an
    enrolment runs them."""
    from careloop.rules.engine import run_for_record

    living = Patient.objects.filter(card_number__in=cards).filter(
        Q(lives_alone=True) | Q(digital_literacy="low")
    )
    run_for_record(living.values_list("pk", flat=True))


PATIENT_FIELDS = [
    "card_number",
    "name",
    "sex",
    "birth_date",
    "id_number",
    "id_number_hash",
    "passport",
    "passport_hash",
    "phone",
    "phone_hash",
    "phone_kind",
    "address",
    "organisation",
    "care_team",
    "responsible_doctor",
    "health_manager",
    "preferred_channel",
    "quiet_hours_start",
    "quiet_hours_end",
    "digital_literacy",
    "lives_alone",
    "risk_tier",
    "created_at",
    "updated_at",
]


def _index(field: str, value: str) -> str | None:
    return index_field(Patient, f"{field}_hash").index_of(value)


def _insert(model: type, rows: list[dict[str, Any]]) -> None:
    if rows:
        fields = list(rows[0])
        insert_rows(model, fields, (tuple(row[f] for f in fields) for row in rows))


def _create_patients(indices: list[int], structure: dict[str, Any]) -> None:
    orgs, teams, users = structure["orgs"], structure["teams"], structure["users"]
    now = timezone.now()
    today = timezone.localdate()
    patient_rows, people, records = [], {}, {}
    for i in indices:
        p = person(i)
        rng = rng_for(i, "record")
        rec = demo_record(p, today, rng)
        org = orgs[PLACEMENT[i % 10]]
        in_hospital = org.code.startswith("DEMO-H1")
        team = teams[
            "内分泌随访组"
            if org.code == "DEMO-H1-ENDO"
            else "心内科随访组"
            if in_hospital
            else "慢病管理组"
        ]
        id_number = p.id_number if i % 20 else ""
        passport = "" if i % 20 else f"E{p.index:08d}"
        phone = p.phone if i % 12 else ""
        created = now - timedelta(days=rng.randint(0, 720), minutes=rng.randint(0, 1440))
        patient_rows.append(
            (
                p.card_number,
                p.name,
                p.sex,
                p.birth_date,
                id_number,
                _index("id_number", id_number),
                passport,
                _index("passport", passport),
                phone,
                _index("phone", phone),
                phone_kind(phone),
                p.address,
                org.pk,
                team.pk,
                users["doctor" if in_hospital else "fdoctor"].pk,
                users["manager"].pk if in_hospital else None,
                rec.preferences["preferred_channel"],
                time(21, 0),
                time(8, 0),
                rec.preferences["digital_literacy"],
                rec.preferences["lives_alone"],
                rec.risk_tier,
                created,
                now,
            )
        )
        people[p.card_number] = (p, org, created)
        records[p.card_number] = rec
    insert_rows(Patient, PATIENT_FIELDS, patient_rows)
    pks = dict(
        Patient.objects.filter(card_number__in=list(people)).values_list("card_number", "pk")
    )
    tables: dict[type, list[dict[str, Any]]] = {
        model: []
        for model in (
            Condition,
            Encounter,
            Medication,
            FamilyHistory,
            Allergy,
            Lifestyle,
            PatientContact,
            ConsentRecord,
            PatientIdentifier,
        )
    }
    for card, (p, org, created) in people.items():
        rec, pk = records[card], pks[card]
        base = {"patient_id": pk}
        tables[Condition] += [
            base
            | c
            | {
                "source": Source.DEMO,
                "clinical_status": "active",
                "note": "",
                "recorded_at": created,
            }
            for c in rec.conditions
        ]
        tables[Encounter] += [
            base
            | e
            | {
                "organisation_id": org.pk,
                "source": Source.DEMO,
                "status": "finished",
                "visit_number": "",
                "created_at": created,
            }
            for e in rec.encounters
        ]
        record_base = base | {"note": "", "recorded_at": created}
        tables[Medication] += [record_base | m | {"stopped_on": None} for m in rec.medications]
        tables[FamilyHistory] += [record_base | f for f in rec.family]
        tables[Allergy] += [record_base | a for a in rec.allergies]
        if rec.lifestyle:
            tables[Lifestyle].append(base | rec.lifestyle | {"updated_at": created})
        tables[PatientContact] += [base | c | {"note": ""} for c in rec.contacts]
        tables[ConsentRecord] += [
            base
            | {
                "purpose": purpose,
                "channel": channel,
                "granted": granted,
                "method": "written",
                "note": "",
                "recorded_at": created,
            }
            for purpose, channel, granted in rec.consents
        ]
        exam = org.kind == Organisation.Kind.EXAM_CENTRE
        number = f"{'TJ' if exam else 'MZ'}{p.index:08d}"
        tables[PatientIdentifier].append(
            base
            | {
                "kind": PatientIdentifier.Kind.EXAM if exam else PatientIdentifier.Kind.MRN,
                "system": org.code,
                "value": number,
                "value_hash": index_field(PatientIdentifier, "value_hash").index_of(number),
            }
        )
    for model, rows in tables.items():
        _insert(model, rows)

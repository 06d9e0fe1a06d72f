"""Demo follow-up: the demo patients on the shipped pathways, so the worklist has work due
today, overdue and coming up (recent heart-failure/coronary discharges on the heart pathway,
hypertension and diabetes patients in the national programmes, enrolled over the last three
weeks)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from careloop.clinical.models import Condition, Encounter
from careloop.demo.people import rng_for
from careloop.followup.bulk_enrol import enrol_batch
from careloop.followup.models import Pathway, Plan
from careloop.patients.identity import age_on
from careloop.patients.models import Patient

PROGRAMMES = {"I10": "htn-programme", "E11": "dm-programme"}


def enrol_demo_patients(cards: list[str]) -> int:
    """Enrol the demo patients with these card numbers (one batch per pathway, as the nightly
    job does); returns how many plans started."""
    pathways = Pathway.objects.filter(enabled=True).in_bulk(
        ["discharge-heart", *PROGRAMMES.values()], field_name="code"
    )
    if not pathways:
        return 0
    now = timezone.now()
    today = timezone.localdate()
    patients, adults = {}, set()
    for pk, card, born in Patient.objects.filter(card_number__in=cards).values_list(
        "pk", "card_number", "birth_date"
    ):
        patients[pk] = card
        if age_on(born, today) >= 35:
            adults.add(pk)
    codes: dict[int, set[str]] = {}
    for pk, code in Condition.objects.filter(patient_id__in=list(patients)).values_list(
        "patient_id", "icd10_code"
    ):
        codes.setdefault(pk, set()).add(code.split(".")[0])
    stays: dict[int, tuple[int, datetime]] = {}  # the last stay ended within 30 days
    for pk, stay, ended in (
        Encounter.objects.filter(
            patient_id__in=list(patients),
            kind=Encounter.Kind.INPATIENT,
            ended_at__gte=now - timedelta(days=30),
            ended_at__lte=now,
        )
        .order_by("ended_at")
        .values_list("patient_id", "pk", "ended_at")
    ):
        if ended is not None:
            stays[pk] = (stay, ended)
    wanted: dict[str, list[tuple[int, str, str]]] = {code: [] for code in pathways}
    anchors: dict[str, dict[int, datetime]] = {code: {} for code in pathways}
    for pk, card in sorted(patients.items()):
        rng = rng_for(int(card[-6:]), "followup")
        mine = codes.get(pk, set())
        if pk in stays and mine & {"I50", "I25"} and "discharge-heart" in pathways:
            stay, ended = stays[pk]
            wanted["discharge-heart"].append((pk, f"encounter:{stay}", "出院（演示数据）"))
            anchors["discharge-heart"][pk] = ended
        for code, pathway_code in PROGRAMMES.items():
            if code in mine and pathway_code in pathways and pk in adults:
                wanted[pathway_code].append((pk, "", f"诊断 {code}（演示数据）"))
                anchors[pathway_code][pk] = now - timedelta(days=rng.randint(0, 20))
    started = 0
    for code, rows in wanted.items():
        if rows:
            trigger = "discharge" if code == "discharge-heart" else "diagnosis"
            result = enrol_batch(
                pathways[code], rows, trigger=trigger, now=now, anchors=anchors[code]
            )
            started += result.enrolled
            # Enrolled back then, as the demo tells it (the nightly job would say today).
            Plan.objects.filter(pathway=pathways[code], patient_id__in=list(anchors[code])).update(
                started_at=F("anchor")
            )
    return started

"""Demo follow-up: the demo patients on the shipped pathways, so the worklist has work due
today, overdue and coming up (recent heart-failure/coronary discharges on the heart pathway,
hypertension and diabetes patients in the national programmes, enrolled over the last three
weeks)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from careloop.clinical.models import Encounter
from careloop.demo.people import rng_for
from careloop.followup.models import Pathway
from careloop.followup.planning import enrol
from careloop.patients.models import Patient

PROGRAMMES = {"I10": "htn-programme", "E11": "dm-programme"}


def enrol_demo_patients(cards: list[str]) -> int:
    """Enrol the demo patients with these card numbers; returns how many plans started."""
    pathways = Pathway.objects.in_bulk(["discharge-heart", *PROGRAMMES.values()], field_name="code")
    if not pathways:
        return 0
    now = timezone.now()
    started = 0
    patients = Patient.objects.filter(card_number__in=cards).select_related("organisation")
    for patient in patients.prefetch_related("conditions"):
        rng = rng_for(int(patient.card_number[-6:]), "followup")
        codes = {c.icd10_code.split(".")[0] for c in patient.conditions.all()}
        stay = (
            Encounter.objects.filter(
                patient=patient,
                kind=Encounter.Kind.INPATIENT,
                ended_at__gte=now - timedelta(days=30),
                ended_at__lte=now,
            )
            .order_by("-ended_at")
            .first()
        )
        if stay is not None and codes & {"I50", "I25"} and "discharge-heart" in pathways:
            plan = enrol(
                patient,
                pathways["discharge-heart"],
                trigger="discharge",
                trigger_ref=f"encounter:{stay.pk}",
                reason="出院（演示数据）",
                anchor=stay.ended_at,
                now=now,
            )
            started += plan is not None
        for code, pathway_code in PROGRAMMES.items():
            if code in codes and pathway_code in pathways and patient.age >= 35:
                plan = enrol(
                    patient,
                    pathways[pathway_code],
                    trigger="diagnosis",
                    reason=f"诊断 {code}（演示数据）",
                    anchor=now - timedelta(days=rng.randint(0, 20)),
                    now=now,
                )
                started += plan is not None
    return started

"""Demo exam and lab results: last year's annual exam and the quarterly check-ups since, for
the first demo patients, so trends and the year-over-year table have points to show, some
values are abnormal, and a few critical values have raised alerts on the worklist.
Deterministic per patient, like the rest of the demo data."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Source
from careloop.clinical.services import ReportInput, do_record_results
from careloop.demo.people import rng_for
from careloop.patients.models import Patient

WITH_RESULTS = 300  # demo patients 0 … 299 have results
# Days before today of each visit (a few more days each, at random): last year's annual exam
# (over a year ago, so always in an earlier year: the year-over-year table compares it), then
# quarterly check-ups.
DAYS_AGO = (400, 270, 180, 90, 0)
VISITS = len(DAYS_AGO)
# LOINC, name, unit, usual low, usual high (a person's level drifts inside or a little out)
ITEMS = [
    ("8480-6", "收缩压", "mmHg", 112, 158),
    ("8462-4", "舒张压", "mmHg", 68, 98),
    ("14771-0", "空腹血糖", "mmol/L", 4.4, 7.8),
    ("4548-4", "糖化血红蛋白", "%", 4.8, 7.6),
    ("14647-2", "总胆固醇", "mmol/L", 3.6, 6.6),
    ("22748-8", "低密度脂蛋白胆固醇", "mmol/L", 1.8, 4.6),
    ("14646-4", "高密度脂蛋白胆固醇", "mmol/L", 0.8, 1.8),
    ("14927-8", "甘油三酯", "mmol/L", 0.6, 2.9),
    ("14682-9", "肌酐", "umol/L", 55, 120),
    ("2823-3", "钾", "mmol/L", 3.6, 5.0),
]
# Every 40th patient's latest visit has a critical value (REFERENCE §4.5): (LOINC, value).
CRITICAL = [("14771-0", 2.6), ("2823-3", 6.6), ("14771-0", 24.5)]


def add_demo_results(indices: list[int], cards: dict[int, str]) -> int:
    """Results for the demo patients among ``indices`` that get them; returns how many
    observations were stored. Call inside a transaction, for newly created patients."""
    wanted = [i for i in indices if i < WITH_RESULTS]
    if not wanted:
        return 0
    patients = {
        p.card_number: p
        for p in Patient.objects.select_related("organisation").filter(
            card_number__in=[cards[i] for i in wanted]
        )
    }
    today = timezone.localdate()
    stored = 0
    for index in wanted:
        patient = patients[cards[index]]
        rng = rng_for(index, "results")
        levels = {code: rng.uniform(low, high) for code, _, _, low, high in ITEMS}
        for visit in range(VISITS):
            day = today - timedelta(days=DAYS_AGO[visit] + rng.randint(3, 20))
            moment = timezone.make_aware(datetime.combine(day, time(8, rng.randint(0, 50))))
            latest = visit == VISITS - 1
            results = []
            for code, name, unit, _low, _high in ITEMS:
                value = levels[code] * rng.uniform(0.93, 1.07)
                if latest and index % 40 == 3:
                    critical_code, critical_value = CRITICAL[(index // 40) % len(CRITICAL)]
                    value = critical_value if code == critical_code else value
                decimals = 0 if unit in ("mmHg", "umol/L") else 2 if unit == "mmol/L" else 1
                results.append(
                    ResultInput(
                        name=name,
                        observed_at=moment,
                        loinc=code,
                        value=round(value, decimals),
                        unit=unit,
                    )
                )
            outcome = do_record_results(
                patient,
                ReportInput(name="年度体检" if visit == 0 else "复查", effective_at=moment),
                results,
                source=Source.IMPORT,
                source_label="演示数据",
            )
            stored += outcome.observations
    return stored


HOME_GLUCOSE = "41653-7"  # 末梢血糖, a glucometer at home
MONITORED_EVERY = 40  # demo patients 5, 45, 85 … monitor their glucose at home


def add_home_glucose(indices: list[int], cards: dict[int, str]) -> int:
    """Two weeks of glucometer readings, twice a day, for the demo patients who monitor their
    glucose at home (tagged 血糖监测). Every other one stopped uploading 4 days ago (the
    sweep's "no reading for 3 days" finds them); one had a low reading last night at 23:10
    (the night-glucose rule alerts their doctor). Returns how many readings were stored."""
    from careloop.rules.services import do_tag_patient

    wanted = [i for i in indices if i < WITH_RESULTS and i % MONITORED_EVERY == 5]
    patients = Patient.objects.select_related("organisation").in_bulk(
        [cards[i] for i in wanted], field_name="card_number"
    )
    today = timezone.localdate()
    stored = 0
    for index in wanted:
        patient = patients[cards[index]]
        do_tag_patient(None, patient, "血糖监测")
        rng = rng_for(index, "home-glucose")
        stopped = 4 if (index // MONITORED_EVERY) % 2 else 0
        readings = []
        for back in range(14, stopped, -1):
            day = today - timedelta(days=back - 1)
            for hour in (7, 20):
                moment = timezone.make_aware(datetime.combine(day, time(hour, rng.randint(0, 40))))
                if moment <= timezone.now():
                    readings.append((moment, round(rng.uniform(5.2, 9.8), 1)))
        if index == 5:  # the latest 23:10 that has passed: within the rule's last day
            last_night = timezone.make_aware(datetime.combine(today, time(23, 10)))
            if last_night > timezone.now():
                last_night -= timedelta(days=1)
            readings.append((last_night, 3.4))
        for moment, value in sorted(readings):
            do_record_results(
                patient,
                None,
                [ResultInput("末梢血糖", moment, loinc=HOME_GLUCOSE, value=value, unit="mmol/L")],
                source=Source.MANUAL,
                source_label="演示数据（家用血糖仪）",
            )
            stored += 1
    return stored

"""A plausible synthetic health record for demo person ``i``: diagnoses by age, matching
medicines, exams and visits, lifestyle, family contacts and consent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from careloop.demo.people import SURNAMES, Person

# (ICD-10, name, probability at age ≥ 60, probability below 60, medicines)
CONDITIONS = [
    (
        "I10",
        "原发性高血压",
        0.45,
        0.18,
        [("苯磺酸氨氯地平片", "5 mg", "每日1次", "antihypertensive")],
    ),
    ("E11", "2型糖尿病", 0.22, 0.08, [("盐酸二甲双胍片", "0.5 g", "每日3次", "glucose_lowering")]),
    ("E78.5", "高脂血症", 0.28, 0.15, [("阿托伐他汀钙片", "20 mg", "每晚1次", "lipid_lowering")]),
    (
        "I25.1",
        "冠状动脉粥样硬化性心脏病",
        0.12,
        0.02,
        [("阿司匹林肠溶片", "100 mg", "每日1次", "other")],
    ),
    ("I50", "心力衰竭", 0.05, 0.005, [("呋塞米片", "20 mg", "每日1次", "other")]),
    ("I63", "脑梗死", 0.06, 0.01, [("氯吡格雷片", "75 mg", "每日1次", "other")]),
    ("J44", "慢性阻塞性肺疾病", 0.06, 0.01, []),
    ("K76.0", "脂肪肝", 0.12, 0.18, []),
    ("E79.0", "高尿酸血症", 0.08, 0.08, []),
]
INPATIENT_FOR = {"I50": "心内科", "I25.1": "心内科", "I63": "神经内科", "J44": "呼吸内科"}
FAMILY = [
    ("father", "高血压", "I10"),
    ("mother", "2型糖尿病", "E11"),
    ("father", "冠心病", "I25.1"),
    ("mother", "脑卒中", "I64"),
]


@dataclass
class DemoRecord:
    conditions: list[dict] = field(default_factory=list)
    encounters: list[dict] = field(default_factory=list)
    medications: list[dict] = field(default_factory=list)
    family: list[dict] = field(default_factory=list)
    allergies: list[dict] = field(default_factory=list)
    lifestyle: dict | None = None
    contacts: list[dict] = field(default_factory=list)
    consents: list[tuple[str, str, bool]] = field(default_factory=list)
    preferences: dict = field(default_factory=dict)

    @property
    def risk_tier(self) -> str:
        """The tier a team would set by hand for the demo (rules raise it on new data):
        high with established cardiovascular disease (coronary disease, heart failure,
        stroke), medium with a chronic disease under management, low otherwise."""
        codes = {c["icd10_code"].split(".")[0] for c in self.conditions}
        if codes & {"I25", "I50", "I63"}:
            return "high"
        return "medium" if codes & {"I10", "E11", "J44"} else "low"


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def demo_record(p: Person, today: date, rng: random.Random) -> DemoRecord:
    age = today.year - p.birth_date.year
    out = DemoRecord()
    elderly = age >= 60
    for code, name, p_old, p_young, medicines in CONDITIONS:
        if rng.random() < (p_old if elderly else p_young):
            onset = today - timedelta(days=rng.randint(60, 365 * 12))
            out.conditions.append({"icd10_code": code, "name": name, "onset_date": onset})
            for med_name, dose, frequency, category in medicines:
                out.medications.append(
                    {
                        "name": med_name,
                        "category": category,
                        "dose": dose,
                        "frequency": frequency,
                        "started_on": onset + timedelta(days=rng.randint(0, 30)),
                    }
                )
            if code in INPATIENT_FOR and rng.random() < 0.5:
                admitted = today - timedelta(days=rng.randint(3, 120))
                out.encounters.append(
                    {
                        "kind": "inpatient",
                        "department": INPATIENT_FOR[code],
                        "reason": name,
                        "started_at": _at(admitted, 10),
                        "ended_at": _at(admitted + timedelta(days=rng.randint(4, 14)), 15),
                    }
                )
    for years_ago in range(rng.randint(1, 3)):
        exam_day = today - timedelta(days=365 * years_ago + rng.randint(10, 200))
        out.encounters.append(
            {
                "kind": "exam",
                "department": "体检中心",
                "reason": "年度健康体检",
                "started_at": _at(exam_day, 8),
                "ended_at": _at(exam_day, 11),
            }
        )
    for _ in range(rng.randint(0, 3)):
        visit = today - timedelta(days=rng.randint(5, 400))
        out.encounters.append(
            {
                "kind": "outpatient",
                "department": "全科门诊",
                "reason": "慢病复诊" if out.conditions else "门诊就诊",
                "started_at": _at(visit, 9),
                "ended_at": None,
            }
        )
    for relation, name, code in FAMILY:
        if rng.random() < 0.2:
            out.family.append({"relation": relation, "condition": name, "icd10_code": code})
    if rng.random() < 0.08:
        out.allergies.append(
            {
                "substance": rng.choice(["青霉素", "磺胺类药物", "头孢类抗生素"]),
                "reaction": "皮疹",
                "severity": "moderate",
            }
        )
    if rng.random() < 0.7:
        smoker = rng.random() < (0.3 if p.sex == "male" else 0.03)
        out.lifestyle = {
            "smoking": "current" if smoker else rng.choice(["never", "never", "former"]),
            "cigarettes_per_day": rng.randint(5, 25) if smoker else None,
            "drinking": rng.choice(["never", "occasional", "often"]),
            "alcohol_liang_per_day": Decimal(rng.choice(["0", "0.5", "1", "2"])),
            "exercise_times_per_week": rng.randint(0, 7),
            "exercise_minutes": rng.choice([15, 30, 45, 60]),
            "salt_intake": rng.choice(["light", "moderate", "moderate", "heavy"]),
            "vegetables_fruit_daily": rng.random() < 0.6,
            "diet": rng.choice(["荤素均衡", "荤食为主", "素食为主", "嗜盐"]),
        }
    if rng.random() < (0.8 if age >= 75 else 0.4):
        child_given = rng.choice("伟敏强静磊芳军丽")
        out.contacts.append(
            {
                "name": rng.choice(SURNAMES) + child_given + rng.choice("华明红军"),
                "relation": "child",
                "phone": f"139{(p.index * 7907 + 97531) % 10**8:08d}",
                "is_guardian": age >= 80,
                "is_emergency": True,
            }
        )
    out.consents = [
        ("followup", "phone", rng.random() < 0.95),
        ("followup", "sms", rng.random() < 0.8),
    ]
    if age < 70:
        out.consents.append(("followup", "wechat", rng.random() < 0.6))
    if elderly:
        channel = "phone" if age >= 70 else rng.choice(["wechat", "sms"])
    else:
        channel = rng.choice(["wechat", "app", "sms"])
    out.preferences = {
        "preferred_channel": channel,
        "digital_literacy": "low" if age >= 75 else ("medium" if age >= 55 else "high"),
        "lives_alone": age >= 70 and rng.random() < 0.25,
    }
    return out

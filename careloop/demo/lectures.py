"""Demo health lectures: two coming at the hospital, one at the community centre, and one
held three days ago with its attendance marked (points earned)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from careloop.care import lectures
from careloop.care.models import Lecture
from careloop.patients.models import Patient

# title, topic, speaker, place, organisation code, days from today at 14:30, seats
LECTURES = [
    ("高血压患者的自我管理", "高血压", "李医生", "门诊楼三楼第一会议室", "DEMO-H1", 5, 60),
    ("糖尿病饮食与运动", "糖尿病", "陈健康管理师", "门诊楼三楼第一会议室", "DEMO-H1", 12, 40),
    ("冬季心脑血管病预防", "心脑血管", "孙医生", "社区卫生服务中心二楼活动室", "DEMO-C1", 8, None),
    ("合理膳食，吃出健康", "合理膳食", "陈健康管理师", "门诊楼三楼第一会议室", "DEMO-H1", -3, 50),
]


def add_demo_lectures(structure: dict[str, Any]) -> int:
    """The demo lectures not there yet; returns how many were made."""
    orgs, staff = structure["orgs"], structure["users"]["manager"]
    today = timezone.localtime().replace(hour=14, minute=30, second=0, microsecond=0)
    made = 0
    for title, topic, speaker, place, code, days, seats in LECTURES:
        organisation = orgs[code]
        if Lecture.objects.filter(organisation=organisation, title=title).exists():
            continue
        lecture = Lecture.objects.create(
            organisation=organisation,
            title=title,
            topic=topic,
            speaker=speaker,
            place=place,
            starts_at=today + timedelta(days=days),
            minutes=60,
            capacity=seats,
            description=f"{speaker}主讲，欢迎患者和家属参加，到场签到可获得积分。",
            created_by=staff,
        )
        made += 1
        if days < 0:  # held three days ago: five patients came
            people = Patient.objects.filter(organisation__path__startswith=organisation.path)
            seats_taken = [lectures.sign_up(lecture, p, by=staff) for p in people[:5]]
            lectures.mark_attendance(lecture, {s.pk for s in seats_taken}, staff)
    return made

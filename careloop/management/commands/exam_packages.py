"""``careloop exam-packages list | load-pack``: the exam-package catalogue (体检套餐, F20)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from careloop.followup.exam_packages import load_packages
from careloop.followup.models import ExamPackage


class Command(BaseCommand):
    help = (
        "Exam packages (F20): list | load-pack (save the shipped packages not there yet; "
        "those changed in the administration are kept as they are). Output is JSON."
    )

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every package: code, name, for whom, price, points, active")
        sub.add_parser("load-pack", help="save the shipped packages not there yet")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load-pack":
            result: Any = {"created": load_packages(), "packages": ExamPackage.objects.count()}
        else:
            result = [
                {
                    "code": p.code,
                    "name": p.name,
                    "organisation": p.organisation.name if p.organisation else None,
                    "sex": p.sex or None,
                    "min_age": p.min_age,
                    "max_age": p.max_age,
                    "price": str(p.price),
                    "points": p.points,
                    "active": p.is_active,
                }
                for p in ExamPackage.objects.select_related("organisation").order_by("code")
            ]
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))

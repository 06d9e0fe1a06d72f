"""``careloop exam-packages``: the shipped catalogue saved once, listed as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from careloop.followup.models import ExamPackage

pytestmark = pytest.mark.django_db


def run(*args: str) -> Any:
    out = StringIO()
    call_command("exam_packages", *args, stdout=out)
    return json.loads(out.getvalue())


def test_load_pack_saves_the_shipped_packages_once_and_keeps_changes() -> None:
    assert run("load-pack") == {"created": 5, "packages": 5}
    ExamPackage.objects.filter(code=ExamPackage.objects.first().code).update(price=1)  # type: ignore[union-attr]
    assert run("load-pack") == {"created": 0, "packages": 5}
    assert ExamPackage.objects.filter(price=1).count() == 1  # a price set is kept
    listed = run("list")
    assert len(listed) == 5 and {"code", "name", "price", "points", "active"} <= set(listed[0])


def test_the_command_is_spelled_with_a_hyphen() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "careloop", "exam-packages", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "load-pack" in done.stdout

"""`careloop assess MODEL --input JSON`: the result as JSON on stdout, exit 2 on bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.unit.test_risk_registry import VALID

# The 2019 guideline example (REFERENCE §2.2): official calculator 4.7 % (低危).
GUIDELINE_MAN = VALID["china-par"]


def run(*args: str, stdin: str | None = None) -> dict:
    out = io.StringIO()
    options = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command("assess", *args, stdout=out, stderr=io.StringIO(), **options)
    return json.loads(out.getvalue())


def test_china_par_prints_its_result_as_json() -> None:
    result = run("china-par", "--input", json.dumps(GUIDELINE_MAN))
    assert result["risk10_percent"] == pytest.approx(4.7, abs=0.3)
    assert result["category"] == "低危"
    assert result["model"] == "china-par"
    assert result["inputs"]["family_history_ascvd"] is True
    assert "低危" in result["explanation"]
    assert result["warnings"] == []


def test_the_output_keeps_chinese_readable() -> None:
    out = io.StringIO()
    call_command(
        "assess",
        "bmi",
        "--input",
        '{"height_cm": 170, "weight_kg": 69.36}',
        stdout=out,
        stderr=io.StringIO(),
    )
    assert '"category": "超重"' in out.getvalue()  # ensure_ascii=False


def test_input_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "visit.json"
    path.write_text(
        json.dumps({"sbp_mmHg": 130, "dbp_mmHg": 85, "on_antihypertensive": False}),
        encoding="utf-8",
    )
    assert run("bp-grade", "--input", f"@{path}")["category"] == "正常高值"
    visit = {
        "age": 62,
        "sbp": 128,
        "dbp": 78,
        "fpg": 3.9,
        "symptoms": ["心悸", "出汗"],
        "adverse_reaction": False,
        "adverse_reaction_hard_to_control": False,
        "new_or_worse_complication": False,
        "previous_classification": "控制满意",
    }
    result = run("dm-followup", "--input", "-", stdin=json.dumps(visit, ensure_ascii=False))
    assert result["urgent_referral"] is True
    assert result["classification"] == "控制满意"
    assert result["next_followup_max_days"] == 14


HTN_VISIT = {
    "age": 60, "sbp": 128, "dbp": 78, "symptoms": [], "pregnant_or_lactating": False,
    "adverse_reaction": False, "adverse_reaction_hard_to_control": False,
    "new_or_worse_complication": False, "previous_classification": "控制满意",
}  # fmt: skip


@pytest.mark.parametrize(
    ("model", "text", "named"),
    [
        ("framingham", "{}", "framingham"),
        ("china-par", "{not json", "JSON"),
        ("china-par", json.dumps({**GUIDELINE_MAN, "age": 300}), "age"),
        ("china-par", json.dumps({k: v for k, v in GUIDELINE_MAN.items() if k != "waist_cm"}),
         "waist_cm"),
        ("china-par", json.dumps({**GUIDELINE_MAN, "diabetes": "no"}), "diabetes"),
        ("china-par", json.dumps({**GUIDELINE_MAN, "sex": "m"}), "sex"),
        ("bp-grade", '{"sbp_mmHg": -120, "dbp_mmHg": 80, "on_antihypertensive": false}',
         "sbp_mmHg"),
        # a diastolic at or above the systolic: the two swapped or one mistyped
        ("bp-grade", '{"sbp_mmHg": 80, "dbp_mmHg": 120, "on_antihypertensive": false}',
         "dbp_mmHg must be below sbp_mmHg"),
        ("htn-followup", json.dumps({**HTN_VISIT, "sbp": 90, "dbp": 90}), "dbp must be below sbp"),
        ("egfr", '{"age": 50, "sex": "male", "creatinine_umol_L": "80"}', "creatinine_umol_L"),
        ("glucose", "[6.1]", "input"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_problem(model: str, text: str, named: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command("assess", model, "--input", text, stdout=io.StringIO(), stderr=io.StringIO())
    assert error.value.returncode == 2
    assert named in str(error.value)


def test_a_missing_input_file_exits_2(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as error:
        call_command("assess", "bmi", "--input", f"@{tmp_path / 'none.json'}", stdout=io.StringIO())
    assert error.value.returncode == 2


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CARELOOP_VAR_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "careloop", "assess", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_the_console_script_prints_json_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    done = cli("china-par", "--input", json.dumps(GUIDELINE_MAN), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["category"] == "低危"
    assert result["risk10_percent"] == pytest.approx(4.7, abs=0.3)

    bad = cli("china-par", "--input", json.dumps({**GUIDELINE_MAN, "age": 300}), tmp_path=tmp_path)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "age" in bad.stderr and "between 20 and 85" in bad.stderr

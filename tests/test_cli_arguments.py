"""Commands refuse arguments they cannot use, with a clear error and before any work."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_a_token_cannot_be_made_already_expired(alice: Any) -> None:
    from careloop.accounts.models import ApiToken

    with pytest.raises(CommandError, match="cannot be negative"):
        call_command("apitoken", "create", "alice", "--days", "-3", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_a_dry_run_looks_back_7_to_365_days(db: None) -> None:
    with pytest.raises(CommandError, match="not from 7 to 365"):
        call_command("rules", "dry-run", "any-rule", "--days", "-5", stdout=io.StringIO())


def test_reports_refuse_an_output_folder_that_is_not_there_before_printing(
    patient_factory: Any, hospital: Any, tmp_path: Path
) -> None:
    from careloop.care.models import ReportBatch

    patient = patient_factory(organisation=hospital)
    out = tmp_path / "missing" / "reports.zip"
    with pytest.raises(CommandError, match="no such directory") as refused:
        call_command("reports", "print", "--out", str(out), "--patient", str(patient.pk))
    assert refused.value.returncode == 2
    assert not ReportBatch.objects.exists()  # nothing printed, archived or audited

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


@pytest.mark.django_db(transaction=True)
def test_the_listener_names_an_address_it_cannot_take(settings: Any) -> None:
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from careloop.env import ConfigurationError, parse_addr

    with socket.socket() as taken, ThreadPoolExecutor(1) as thread:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.MLLP_ADDR = taken.getsockname()
        # In a thread of its own, as on the command line: no event loop running there.
        run = thread.submit(call_command, "mllp", processors=0)
        with pytest.raises(CommandError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            run.result(timeout=60)
    with pytest.raises(ConfigurationError, match="port must be from 0 to 65535"):
        parse_addr("127.0.0.1:99999", "CARELOOP_MLLP_ADDR")


def test_reprocessing_names_a_message_id_that_is_not_one(db: None) -> None:
    """A 23-digit id reached the query (SQLite: "too large to convert", a traceback), and an
    id of no message was passed over in silence with exit status 0."""
    with pytest.raises(CommandError, match="is not a message id"):
        call_command("inbound", "reprocess", "9" * 23, stdout=io.StringIO())
    with pytest.raises(CommandError, match="is not a message id"):
        call_command("inbound", "show", "9" * 23, stdout=io.StringIO())
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"^1 message\(s\) not found$"):  # not "failed again"
        call_command("inbound", "reprocess", "424242", stdout=out)
    assert out.getvalue().strip() == "424242: no such message"


@pytest.mark.parametrize("taken_one", ["HTTP_ADDR", "MLLP_ADDR"])
def test_serve_names_an_address_it_cannot_take_before_starting_anything(
    settings: Any, taken_one: str
) -> None:
    """The web server alone found its address taken: after "CareLoop is running" was
    printed, the worker, scheduler and listener started, in gunicorn's five retries."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.HTTP_ADDR = settings.MLLP_ADDR = ("127.0.0.1", 0)  # any free port
        setattr(settings, taken_one, taken.getsockname())
        out = io.StringIO()
        with pytest.raises(
            CommandError, match=rf"cannot listen on 127\.0\.0\.1:\d+ \(CARELOOP_{taken_one}\)"
        ):
            call_command("serve", "--no-demo", stdout=out)
    assert out.getvalue() == ""  # not migrated, nothing started


def test_serve_refuses_a_negative_number_of_demo_patients_by_its_own_name() -> None:
    with pytest.raises(CommandError, match="--demo-patients must be between") as refused:
        call_command("serve", "--demo-patients", "-1", stdout=io.StringIO())
    assert refused.value.returncode == 2


def test_listing_the_tokens_of_a_user_that_is_not_there_names_them(alice: Any) -> None:
    """A mistyped user name listed nothing with exit status 0, as for a user without tokens."""
    with pytest.raises(CommandError, match="no user named 'alcie'"):
        call_command("apitoken", "list", "alcie", stdout=io.StringIO())
    out = io.StringIO()
    call_command("apitoken", "list", "alice", stdout=out)  # there, without tokens
    assert out.getvalue() == ""


def test_enrolling_the_eligible_with_no_workers_is_refused(db: None) -> None:
    """--workers 0 was taken as the default, one (and -1 refused)."""
    with pytest.raises(CommandError, match="--workers must be between 1 and 32"):
        call_command("pathways", "enrol-eligible", "--workers", "0", stdout=io.StringIO())


@pytest.mark.parametrize("count", ["-1", "65"])
def test_the_listener_refuses_a_number_of_processors_it_cannot_run(count: str) -> None:
    """-1 was taken for 0: every message acknowledged and stored, none ever imported."""
    with pytest.raises(CommandError, match="--processors must be from 0 to 64") as refused:
        call_command("mllp", "--processors", count)
    assert refused.value.returncode == 2


@pytest.mark.parametrize("typed", ["reply-check", "value-tiers", "faq-check"])
def test_a_hyphenated_command_names_itself_as_typed_in_its_usage(
    typed: str, capsys: Any, db: None
) -> None:
    """``careloop reply-check --help`` said "usage: careloop reply_check", a name that the
    documentation never gives."""
    from careloop.cli import main

    with pytest.raises(SystemExit) as done:
        main([typed, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: careloop {typed} ")

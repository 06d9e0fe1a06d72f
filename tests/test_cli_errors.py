"""The console script as an administrator meets it: a problem with the database or the keys
is one sentence on stderr and a non-zero exit status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from careloop.env import new_fernet_key


def careloop(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARELOOP_")}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.update(CARELOOP_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "careloop", *args],
        env=clean,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_a_database_not_migrated_yet_says_to_migrate(tmp_path: Path) -> None:
    done = careloop("apitoken", "list", tmp_path=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert "has not been migrated yet" in done.stderr
    assert "run `careloop migrate` first" in done.stderr
    assert str(tmp_path / "careloop.db") in done.stderr


def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()  # a folder where the database file should be
    done = careloop(
        "rules", "list", tmp_path=tmp_path, CARELOOP_DATABASE_URL=f"sqlite:///{tmp_path}/db"
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"the database {tmp_path}/db cannot be used" in done.stderr


def test_a_field_key_that_is_not_one_is_named_before_any_work(tmp_path: Path) -> None:
    done = careloop("rules", "list", tmp_path=tmp_path, CARELOOP_FIELD_KEY="notakey")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "CARELOOP_FIELD_KEY: key 1 of 1 is not a Fernet key" in done.stderr


@pytest.mark.slow
def test_another_field_key_than_the_database_was_written_with_is_named(tmp_path: Path) -> None:
    assert careloop("migrate", tmp_path=tmp_path).returncode == 0
    assert careloop("demo", "--patients", "3", tmp_path=tmp_path).returncode == 0
    done = careloop(
        "reports",
        "print",
        "--out",
        str(tmp_path / "reports.zip"),
        "--org",
        "DEMO-H1",
        tmp_path=tmp_path,
        CARELOOP_FIELD_KEY=new_fernet_key(),
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "CARELOOP_FIELD_KEY cannot read the identifiers this database holds" in done.stderr


def test_a_switch_with_a_wrong_value_is_named(tmp_path: Path) -> None:
    done = careloop("rules", "list", tmp_path=tmp_path, CARELOOP_DEBUG="maybe")
    assert done.returncode == 2
    assert done.stderr.strip() == "careloop: CARELOOP_DEBUG must be 1 or 0 (on or off), got 'maybe'"


def test_ctrl_c_is_one_line_and_exit_status_130(tmp_path: Path) -> None:
    import signal
    import time

    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARELOOP_")}
    clean.update(CARELOOP_VAR_DIR=str(tmp_path))
    waiting = subprocess.Popen(  # reading the reply from stdin, which never comes
        [sys.executable, "-m", "careloop", "reply-check", "-"],
        env=clean,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(8)  # Django set up, the command waiting on stdin
    waiting.send_signal(signal.SIGINT)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 130
    assert "Traceback" not in err and err.splitlines()[-1] == "careloop: interrupted"
    assert out == ""


def test_a_media_folder_that_cannot_be_used_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    done = careloop(
        "rules", "list", tmp_path=tmp_path, CARELOOP_MEDIA_ROOT=str(tmp_path / "a-file" / "m")
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "CARELOOP_MEDIA_ROOT: cannot use" in done.stderr


def test_only_errors_about_reaching_the_database_are_shortened() -> None:
    """A defect of ours (SQL the database refuses) keeps its traceback: it is the report."""
    from django.db import OperationalError, ProgrammingError

    from careloop.cli import database_problem

    assert database_problem(ProgrammingError("syntax error at or near 'SELEC'")) is None
    missing = database_problem(ProgrammingError('relation "rules_rule" does not exist'))
    assert missing is not None and "run `careloop migrate` first" in missing
    closed = database_problem(OperationalError("connection refused"))
    assert closed is not None and "cannot be used: connection refused" in closed

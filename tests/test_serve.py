"""`careloop serve` end to end: one process group, demo data, web up, Ctrl-C stops all."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hl7"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_serve_runs_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = dict(
        os.environ,
        CARELOOP_VAR_DIR=str(tmp_path),
        CARELOOP_HTTP_ADDR=f"127.0.0.1:{port}",
        CARELOOP_MLLP_ADDR=f"127.0.0.1:{free_port()}",
        CARELOOP_WEB_WORKERS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "careloop", "serve", "--demo-patients", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180  # migrate and the demo, on a busy machine too
        while True:
            try:
                status, body = fetch(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "web did not come up"
                time.sleep(0.5)
        assert status == 200 and b'"database": "ok"' in body
        assert fetch(f"http://127.0.0.1:{port}/accounts/login/")[0] == 200
        assert fetch(f"http://127.0.0.1:{port}/static/careloop/app.css")[0] == 200
        # A patient link (here a made-up one: 404) reaches no log with its token.
        token = "eyJwIjo5OTk5OX0:1vAbCd:SecretPart"
        with pytest.raises(urllib.error.HTTPError):
            fetch(f"http://127.0.0.1:{port}/p/{token}/q/phq9/")
        children = subprocess.run(
            ["pgrep", "-a", "-g", str(process.pid), "-f", "careloop"],
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        assert len(children) >= 3  # serve, worker, scheduler (+ gunicorn)
        for name in ("worker", "scheduler", "mllp"):  # serve ran Django's checks once for all
            assert any(f"careloop {name} --skip-checks" in line for line in children), name
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output = process.communicate(timeout=30)[0].decode()
    assert "CareLoop is running" in output
    assert "/p/…/q/phq9/" in output and "SecretPart" not in output
    assert "nurse" in output  # demo log-ins printed
    deadline = time.monotonic() + 10  # a gunicorn worker notices its master is gone within ~1 s
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of the group is left


def test_a_web_worker_loads_its_views_when_it_starts() -> None:
    """gunicorn imports the WSGI module in each worker before it takes a connection: the
    views (and the FHIR resource classes) are loaded then, not by the first request (which
    took ~0.75 s longer than the next ones)."""
    probe = (
        "import sys, careloop.wsgi; "
        "print(all(m in sys.modules for m in "
        "('careloop.interop.fhir.views', 'careloop.followup.views', "
        "'fhir.resources.R4B.observation')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "True"

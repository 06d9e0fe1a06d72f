"""Runs the system's processes as one group (``careloop serve``): web (gunicorn), task
worker, scheduler and the MLLP listener. Ctrl-C or SIGTERM stops them all; if one dies, the
rest are stopped too, so a half-running system never looks healthy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None


def web_argv(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "careloop.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--no-control-socket",
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        # Paths only, never query strings: a search for a phone number must not reach a log;
        # and no patient link's token (careloop.log_privacy).
        "--logger-class",
        "careloop.log_privacy.AccessLogger",
        "--access-logfile",
        "-",
        "--access-logformat",
        '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
    ]


def careloop_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "careloop", *args]


class Supervisor:
    def __init__(self, children: list[Child], *, grace: float = 10.0) -> None:
        self.children = children
        self.grace = grace
        self.stopping = False

    def start(self) -> None:
        for child in self.children:
            child.process = subprocess.Popen(child.argv)  # noqa: S603 - our own commands

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def wait(self) -> int:
        """Block until a signal or a child's exit; stop everything; return an exit code."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        code = 0
        while not self.stopping:
            for child in self.children:
                assert child.process is not None
                status = child.process.poll()
                if status is not None:
                    sys.stderr.write(
                        f"careloop: {child.name} exited with status {status}; stopping\n"
                    )
                    code = status or 1
                    self.stopping = True
                    break
            time.sleep(0.2)
        self.stop()
        return code

    def stop(self) -> None:
        stop_processes([c.process for c in self.children if c.process], self.grace)


def stop_processes(processes: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM those still running, give them ``grace`` seconds in all, then SIGKILL."""
    alive = [process for process in processes if process.poll() is None]
    for process in alive:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in alive:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def default_web_workers() -> int:
    value = os.environ.get("CARELOOP_WEB_WORKERS", "")
    return int(value) if value.isdigit() else 2

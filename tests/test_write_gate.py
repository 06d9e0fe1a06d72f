"""The SQLite write gate: result processors queue among themselves before the gate, so the
listener waits at the gate behind at most one of them."""

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from careloop.write_gate import write_gate


def _waiters(path: Path) -> int:
    """Processes or threads blocked on a flock of ``path`` (from /proc/locks)."""
    inode = path.stat().st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if "->" in line and f":{inode} " in line)


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_second_processor_waits_in_its_queue_and_the_listener_at_the_gate(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "careloop.db")
    gate, queue = Path(f"{database}.write-gate"), Path(f"{database}.processors-queue")
    inside, leave, order = threading.Event(), threading.Event(), []

    def writer(name: str, queue_name: str) -> None:
        with write_gate(database, queue=queue_name):
            order.append(name)
            if name == "first processor":
                inside.set()
                leave.wait(10)

    first = threading.Thread(target=writer, args=("first processor", "processors"))
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=writer, args=("second processor", "processors"))
    second.start()
    _until(lambda: _waiters(queue) == 1)
    assert _waiters(gate) == 0  # the second processor is not at the gate
    listener = threading.Thread(target=writer, args=("listener", ""))
    listener.start()
    _until(lambda: _waiters(gate) == 1)  # only the listener waits there
    leave.set()
    for thread in (first, second, listener):
        thread.join(5)
    assert order[0] == "first processor" and sorted(order[1:]) == ["listener", "second processor"]
    for path in (gate, queue):  # everything was let go
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


def _gated_connection(database: str) -> Any:
    """A connection of CareLoop's SQLite backend to ``database`` (a file), as the web,
    worker and scheduler processes open theirs (careloop.env)."""
    from django.db import connection

    from careloop.db.sqlite3.base import DatabaseWrapper

    return DatabaseWrapper({**connection.settings_dict, "NAME": database}, alias="gated")


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Any:
    """Connections of the tests' own to a file of their own (not the test database)."""
    with django_db_blocker.unblock():
        yield


def test_a_django_transaction_holds_the_gate_until_it_ends(tmp_path: Path, unblocked: None) -> None:
    """A job's transaction (any Django transaction on SQLite) takes the gate at BEGIN and
    lets go at COMMIT or ROLLBACK: the listener, waiting at the gate, is woken at once
    instead of sleeping in SQLite's busy handler through the gaps between transactions."""
    database = str(tmp_path / "careloop.db")
    gate = Path(f"{database}.write-gate")
    began, end = threading.Event(), threading.Event()
    finishing: list[str] = []  # set just before COMMIT/ROLLBACK: the gate is let go inside
    outcome: list[str] = []

    def job(finish: str) -> None:
        conn = _gated_connection(database)
        try:
            conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                cursor.execute("INSERT INTO t VALUES (1)")
            began.set()
            end.wait(10)
            finishing.append(finish)
            conn.commit() if finish == "commit" else conn.rollback()
            conn.set_autocommit(True)
        finally:
            conn.close()

    def listener() -> None:
        with write_gate(database):
            outcome.append("stored while " + ",".join(finishing or ["the transaction was open"]))

    for finish in ("commit", "rollback"):
        began.clear(), end.clear(), finishing.clear(), outcome.clear()
        worker = threading.Thread(target=job, args=(finish,))
        worker.start()
        assert began.wait(5)
        waiting = threading.Thread(target=listener)
        waiting.start()
        _until(lambda: _waiters(gate) == 1)  # held by the open transaction
        end.set()
        for thread in (worker, waiting):
            thread.join(5)
        assert outcome == [f"stored while {finish}"]


def test_a_transaction_inside_the_gate_does_not_take_it_again(
    tmp_path: Path, unblocked: None
) -> None:
    """The result processors hold the gate around their transactions themselves."""
    database = str(tmp_path / "careloop.db")
    conn = _gated_connection(database)
    try:
        with write_gate(database):
            conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
            conn.commit()
            conn.set_autocommit(True)
            fd = os.open(f"{database}.write-gate", os.O_RDWR)
            try:  # still held by this thread's outer gate: another holder is refused
                with pytest.raises(BlockingIOError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(fd)
    finally:
        conn.close()

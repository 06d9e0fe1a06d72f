"""The SQLite write gate: result processors queue among themselves before the gate, so the
listener waits at the gate behind at most one of them."""

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

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

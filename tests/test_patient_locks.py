"""Result processors side by side: a patient's record is one processor's at a time, from
reading it for the rules to the commit (careloop/interop/patient_locks.py)."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from careloop.interop import patient_locks

pytestmark = pytest.mark.django_db(transaction=True)

TRY_BYTE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for key in map(int, sys.argv[2:]):
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, key)
    except OSError:
        print(key, "held")
    else:
        print(key, "free")
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, key)
"""


def _other_process_finds(path: str, *keys: int) -> dict[int, str]:
    """What another process (another processor) finds of these keys' byte locks."""
    out = subprocess.run(
        [sys.executable, "-c", TRY_BYTE, path, *map(str, keys)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {int(key): state for key, state in (line.split() for line in out.splitlines())}


def _other_session_finds(*keys: int) -> dict[int, str]:
    """What another PostgreSQL session (another processor) finds of these patients' locks."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            found = {}
            for key in keys:
                cursor.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", [patient_locks.NAMESPACE, key]
                )
                free = cursor.fetchone()[0]
                found[key] = "free" if free else "held"
                if free:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [patient_locks.NAMESPACE, key]
                    )
            return found
    finally:
        other.close()


def test_on_sqlite_a_patient_held_by_one_processor_is_not_another_s(tmp_path: Path) -> None:
    database = str(tmp_path / "careloop.db")
    lock_file = f"{database}.patients"
    with patient_locks.holding([7, 3, 7], sqlite_database=database):
        assert _other_process_finds(lock_file, 3, 5, 7) == {3: "held", 5: "free", 7: "held"}
    assert _other_process_finds(lock_file, 3, 7) == {3: "free", 7: "free"}  # let go after


def test_on_this_database_a_patient_held_is_not_another_processor_s(tmp_path: Path) -> None:
    if connection.vendor == "postgresql":  # session advisory locks, seen from another session
        with patient_locks.holding([11, 12]):
            assert _other_session_finds(11, 12, 13) == {11: "held", 12: "held", 13: "free"}
        assert _other_session_finds(11, 12) == {11: "free", 12: "free"}
    else:  # the suite's SQLite is in memory, one process: a database file shows the locks
        database = str(tmp_path / "other.db")
        with patient_locks.holding([11, 12], sqlite_database=database):
            assert _other_process_finds(f"{database}.patients", 11, 13) == {
                11: "held",
                13: "free",
            }


HOLD_BYTE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, int(sys.argv[2]))
print("held", flush=True)
sys.stdin.read()
"""


def _holding_in_another_process(lock_file: str, key: int) -> subprocess.Popen[str]:
    """Another processor holding one patient's byte lock until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_BYTE, lock_file, str(key)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_processor_stuck_with_a_patient_holds_up_another_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patient_locks, "WAIT", 0.3)
    if connection.vendor == "postgresql":
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, 22)", [patient_locks.NAMESPACE])
        try:
            with pytest.raises(patient_locks.PatientBusy), patient_locks.holding([21, 22]):
                pass
        finally:
            other.close()
        assert _other_session_finds(21, 22) == {21: "free", 22: "free"}  # 21 let go again
    else:
        database = str(tmp_path / "careloop.db")
        stuck = _holding_in_another_process(f"{database}.patients", 22)
        try:
            with (
                pytest.raises(patient_locks.PatientBusy),
                patient_locks.holding([21, 22], sqlite_database=database),
            ):
                pass
            assert _other_process_finds(f"{database}.patients", 21) == {21: "free"}
        finally:
            stuck.kill()
            stuck.wait()


def test_a_processor_waits_for_a_patient_until_the_other_lets_go(tmp_path: Path) -> None:
    got: list[float] = []

    def wait_for_them(sqlite_database: str | None) -> None:
        start = time.monotonic()
        try:
            with patient_locks.holding([31, 32], sqlite_database=sqlite_database):
                got.append(time.monotonic() - start)
        finally:
            connection.close()  # this thread's own

    if connection.vendor == "postgresql":
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, 32)", [patient_locks.NAMESPACE])
        waiter = threading.Thread(target=wait_for_them, args=(None,))
        waiter.start()
        time.sleep(0.4)
        assert not got  # still waiting
        other.close()  # lets go
    else:
        database = str(tmp_path / "careloop.db")
        holder = _holding_in_another_process(f"{database}.patients", 32)
        waiter = threading.Thread(target=wait_for_them, args=(database,))
        waiter.start()
        time.sleep(0.4)
        assert not got
        holder.kill()
        holder.wait()
    waiter.join(10)
    assert len(got) == 1 and 0.3 < got[0] < patient_locks.WAIT


def test_the_one_by_one_path_takes_a_patient_without_waiting(tmp_path: Path) -> None:
    if connection.vendor == "postgresql":  # the transaction's own locks
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, 43)", [patient_locks.NAMESPACE])
        try:
            with patient_locks.taking() as taker, transaction.atomic():
                taker.take(41)
                assert _other_session_finds(41) == {41: "held"}
                with pytest.raises(patient_locks.PatientBusy):
                    taker.take(43)  # held elsewhere: at once, no wait
        finally:
            other.close()
        assert _other_session_finds(41) == {41: "free"}  # let go with the commit
    else:
        database = str(tmp_path / "careloop.db")
        lock_file = f"{database}.patients"
        holder = _holding_in_another_process(lock_file, 43)
        try:
            with patient_locks.taking(sqlite_database=database) as taker:
                taker.take(41)
                assert _other_process_finds(lock_file, 41) == {41: "held"}
                with pytest.raises(patient_locks.PatientBusy):
                    taker.take(43)
        finally:
            holder.kill()
            holder.wait()
        assert _other_process_finds(lock_file, 41) == {41: "free"}


def test_a_write_whose_patients_keep_changing_gives_up_busy(held: list[list[int]]) -> None:
    asked = iter(range(1, 100))  # each time asked, the resource has moved on to another
    with (
        pytest.raises(patient_locks.PatientBusy),
        patient_locks.holding_settled(lambda: [next(asked)]),
    ):
        pytest.fail("the block must not run")
    assert held == [[1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]  # taken again, then given up


def test_a_part_is_one_processor_s_on_every_machine_and_a_stopped_one_s_claims_come_back(
    tmp_path: Path,
) -> None:
    # Two machines each run `careloop serve`, whose `careloop mllp` starts processors 0/2
    # and 1/2: one part must be one processor's at a time (else a patient's messages are
    # imported by two at once, out of order); the other machine's stands by.
    from django.utils import timezone

    from careloop.interop.models import InboundMessage
    from careloop.interop.processing import Part, part_lock, release_claims_of

    sqlite = None if connection.vendor == "postgresql" else str(tmp_path / "careloop.db")
    here, there = part_lock(Part(0, 2), sqlite), part_lock(Part(0, 2), sqlite)
    other_part = part_lock(Part(1, 2), sqlite)
    try:
        assert here.acquire() and other_part.acquire()
        assert not there.acquire()  # standing by
        here.release()  # that machine stopped (or was killed: its connection closed)
        assert there.acquire()
    finally:
        for lock in (here, there, other_part):
            lock.release()
    # What the stopped processor had claimed is put back at once by the one taking over,
    # not after STALE_CLAIM (five minutes of results, critical values among them, waiting).
    for shard in range(4):
        InboundMessage.objects.create(
            raw=b"MSH", shard=shard, status="processing", claimed_at=timezone.now()
        )
    assert release_claims_of(Part(0, 2)) == 2
    assert sorted(InboundMessage.objects.values_list("shard", "status")) == [
        (0, "received"),
        (1, "processing"),
        (2, "received"),
        (3, "processing"),
    ]

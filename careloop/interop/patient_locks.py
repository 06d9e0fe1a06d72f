"""Patients one result processor at a time, from reading their record to the commit.

Processors side by side each take their own shard of the messages, by the patient's first
identifier (``ingest.shard_of``). A person named by different identifiers in different
messages (the resident ID in one, only a record number in another) can still reach two
processors at once. Each reads the stored record, adds its own new results and runs the
rules on that before its write transaction; without a lock, neither would see the other's
results, and a rule over both (a trend, two items together) would not fire.

So a processor holds a lock on each patient of its batch it already knows, taken before it
reads their record and let go after its commit: the second waits, then reads the first's
results as stored. Locks are taken in ascending order, so two processors never wait on each
other in a circle.

- PostgreSQL: session advisory locks (``pg_advisory_lock(namespace, key)``), so processors
  on other machines are covered too.
- SQLite: a byte-range lock (``fcntl.lockf``) per patient in a file beside the database;
  SQLite lives on one machine, and these locks are per process, as processors are.

The one-by-one path (admissions and discharges, and a batch that failed) imports inside one
transaction that, on SQLite, holds the write gate: waiting there for a patient could
deadlock with a processor that holds the patient and waits for the gate. So it takes each
patient without waiting (``taking``): a patient held elsewhere puts that message back to
wait, to be imported a little later.

A key is the patient id folded into the lock's range; two patients sharing a key only wait
for each other now and then, which is harmless. A processor waits at most ``WAIT`` seconds
(one stuck inside its transaction must not stop the others): then ``PatientBusy``, and the
processor puts the batch back to wait, to be claimed again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from django.db import OperationalError, connection, transaction

from careloop.sql_lists import pg_array
from careloop.write_gate import lock_fd, sqlite_file

logger = logging.getLogger("careloop.interop")

NAMESPACE = 0x434C  # "CL": the first key of our advisory locks
PG_KEYS = 2**31  # the second key is an int4
SQLITE_KEYS = 2**20  # bytes of the lock file, one per key
WAIT = 30.0  # seconds
_in_process = threading.Lock()


class PatientBusy(Exception):
    """Another processor holds one of the patients (longer than ``WAIT``, for ``holding``)."""


@contextlib.contextmanager
def holding(patient_ids: Iterable[int], sqlite_database: str | None = None) -> Iterator[None]:
    """Hold the locks of these patients (ids of stored patients) until the block ends.

    ``sqlite_database``: the database file, when it is not Django's connection's (tests)."""
    ids = [pk for pk in patient_ids if pk and pk > 0]
    if not ids:
        yield
        return
    if _on_postgresql(sqlite_database):
        with _advisory(sorted({pk % PG_KEYS for pk in ids})):
            yield
        return
    path = _lock_file(sqlite_database)
    if path is None:
        yield
        return
    # These locks are the process's: its threads (web workers reprocessing) take turns.
    with _in_process, _byte_ranges(path, sorted({pk % SQLITE_KEYS for pk in ids})):
        yield


@contextlib.contextmanager
def holding_settled(concerned: Callable[[], Iterable[int]]) -> Iterator[None]:
    """Hold the patients ``concerned()`` names, asked again once they are held: a write that
    committed meanwhile may have moved the stored resource to another patient. Then the
    locks are let go and taken again with that patient too, a few times at most: still
    changing then, ``PatientBusy``."""
    wanted = set(concerned())
    for _ in range(4):
        with holding(sorted(wanted)):
            now = set(concerned())
            if now <= wanted:
                yield
                return
        wanted |= now
    raise PatientBusy("the patients concerned kept changing")


def _on_postgresql(sqlite_database: str | None) -> bool:
    return sqlite_database is None and connection.vendor == "postgresql"


def _lock_file(sqlite_database: str | None) -> str | None:
    """SQLite's file of patient locks; None for an in-memory database (one process: nothing
    to share)."""
    database = sqlite_file(sqlite_database)
    return None if database is None else f"{database}.patients"


def _try_byte(fd: int, key: int) -> bool:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, key)
    except OSError:  # held by another process
        return False
    return True


class Taker:
    """Patients taken one at a time, without waiting, until the ``taking`` block ends."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # SQLite's lock file; None: PostgreSQL, or nothing to share

    def take(self, patient_id: int) -> None:
        """Raises PatientBusy when another processor holds this patient."""
        if self.path is not None:
            taken = _try_byte(lock_fd(self.path), patient_id % SQLITE_KEYS)
        elif connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # let go at the end of the transaction
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock(%s, %s)",
                    [NAMESPACE, patient_id % PG_KEYS],
                )
                taken = cursor.fetchone()[0]
        else:
            return
        if not taken:
            raise PatientBusy(f"patient {patient_id}")


@contextlib.contextmanager
def taking(sqlite_database: str | None = None) -> Iterator[Taker]:
    """Around a transaction (outside it, so that what is taken is let go after its commit):
    take its patients one by one with ``Taker.take``. On PostgreSQL the locks are the
    transaction's own; call inside one."""
    path = None if _on_postgresql(sqlite_database) else _lock_file(sqlite_database)
    if path is None:
        yield Taker(None)
        return
    with _in_process:
        try:
            yield Taker(path)
        finally:
            fcntl.lockf(lock_fd(path), fcntl.LOCK_UN, 0, 0)


@contextlib.contextmanager
def _advisory(keys: list[int]) -> Iterator[None]:
    if not _took_all_at_once(keys):
        _wait_for_all(keys)
    try:
        yield
    finally:
        _release(keys)


def _took_all_at_once(keys: list[int]) -> bool:
    """The usual case in one statement: none of them is held elsewhere (a try never waits,
    so the order does not matter here). Otherwise what it took is let go again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::int[]) AS k WHERE pg_try_advisory_lock(%s, k)",
            [pg_array(keys), NAMESPACE],
        )
        taken = [k for (k,) in cursor.fetchall()]
    if len(taken) == len(keys):
        return True
    if taken:
        _release(taken)
    return False


def _wait_for_all(keys: list[int]) -> None:
    try:
        # In a transaction only for its time limits (session locks outlive it): each lock
        # waits at most WAIT, and all of them together too. ORDER BY: PostgreSQL calls a
        # volatile function of the select list after sorting, so the locks are taken in
        # ascending order.
        with transaction.atomic(), connection.cursor() as cursor:
            limit = f"'{int(WAIT * 1000)}ms'"
            cursor.execute(f"SET LOCAL lock_timeout = {limit}")
            cursor.execute(f"SET LOCAL statement_timeout = {limit}")
            cursor.execute(
                "SELECT pg_advisory_lock(%s, k) FROM unnest(%s::int[]) AS k ORDER BY k",
                [NAMESPACE, pg_array(keys)],
            )
            cursor.fetchall()
    except OperationalError as error:  # timed out: the locks taken before it are still held
        _release(keys)
        raise PatientBusy("patient locks") from error


def _release(keys: list[int]) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_unlock(%s, k)) FROM unnest(%s::int[]) AS k",
                [NAMESPACE, pg_array(keys)],
            )
    except Exception as exc:  # a broken connection: closing it lets go of its locks
        logger.warning("could not release patient locks: %s", type(exc).__name__)
        connection.close()


@contextlib.contextmanager
def _byte_ranges(path: str, keys: list[int]) -> Iterator[None]:
    fd = lock_fd(path)  # kept open: closing any descriptor of the file drops our locks
    deadline = time.monotonic() + WAIT
    try:
        for key in keys:
            while not _try_byte(fd, key):  # held by another processor (contention is rare)
                if time.monotonic() > deadline:
                    raise PatientBusy(f"patient lock {key}")
                time.sleep(0.005)
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, 0, 0)  # every range this process holds on the file

"""One writer at a time on SQLite, handed over without SQLite's coarse busy wait.

SQLite allows one writing transaction at a time; a second writer waits in SQLite's busy
handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries, so it often sleeps on long
after the lock is free. The MLLP listener acknowledges only after its commit, so those
sleeps would show up directly as ACK latency. The hot writers (the listener's store and the
result processor) therefore queue on an exclusive ``flock`` beside the database file first:
the kernel wakes the next one the moment the holder lets go. On PostgreSQL, where writers do
not block each other like this, the gate is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

from django.db import connection

_local = threading.local()


def sqlite_file(database: str | None) -> str | None:
    """The SQLite database file locks are taken beside (by default Django's connection's);
    None on PostgreSQL and for an in-memory database."""
    if database is None:
        if connection.vendor != "sqlite":
            return None
        database = str(connection.settings_dict["NAME"])
    if not database or database.startswith("file:") or ":memory:" in database:
        return None  # an in-memory database (tests) lives in one process
    return database


def lock_fd(path: str) -> int:
    """A descriptor of the lock file ``path``, opened once per thread and kept open."""
    if not hasattr(_local, "fds"):
        _local.fds = {}
    if path not in _local.fds:
        _local.fds[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return int(_local.fds[path])


@contextlib.contextmanager
def write_gate(sqlite_database: str | None = None, *, queue: str = "") -> Iterator[None]:
    """Hold the write gate (SQLite) around a writing transaction; re-entrant per thread.

    ``sqlite_database``: the database file, for a caller that does not write through Django's
    connection (the MLLP listener); by default, Django's connection decides.

    ``queue``: writers of one kind (the result processors) queue among themselves first, so
    only one of them at a time waits at the gate: the listener, which does not queue, then
    usually waits for one processor's transaction, not for one and then the next (``flock``
    wakes its waiters in no set order, so this is the likely case, not a promise).
    """
    database = sqlite_file(sqlite_database)
    depth = getattr(_local, "depth", 0)
    if database is None or depth:
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth = depth
        return
    paths = [f"{database}.{queue}-queue"] if queue else []
    paths.append(f"{database}.write-gate")  # the queue first, the gate last
    with contextlib.ExitStack() as held:
        for path in paths:
            fd = lock_fd(path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.callback(fcntl.flock, fd, fcntl.LOCK_UN)  # the gate is let go first
        _local.depth = 1
        try:
            yield
        finally:
            _local.depth = 0


def relaxed_commit() -> None:
    """Inside a transaction on PostgreSQL: let its commit return without waiting for the WAL
    flush. Only for work that can be redone from what is already durable, and whose own
    bookkeeping is in the same transaction (the result processor: the raw message was
    stored durably, and its status changes with the rows imported from it, so a crash that
    loses the commit leaves the message waiting and it is imported again)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")

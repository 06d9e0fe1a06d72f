"""Django's SQLite backend, each writing transaction taken through the write gate.

Transactions begin IMMEDIATE (``careloop.env``): each takes SQLite's write lock at BEGIN.
A writer that finds the lock taken waits in SQLite's busy handler, which sleeps 1, 2, 5 …
up to 100 ms between tries; a job committing one small transaction after another (the
quarter's stage summaries, re-planning, sending) takes the lock again within microseconds
of letting it go, so such a waiter can sleep through every gap: the MLLP listener's ACK
was measured waiting 14 s behind the stage-summary job of 5,000 patients. Here every
transaction first queues at the write gate (``careloop.write_gate``), where the kernel
wakes the next writer the moment the holder lets go, as the listener and the result
processors already did. The exclusion is the one BEGIN IMMEDIATE already imposed; a thread
already at the gate (the processors) goes straight on.

The database file is created readable by its owner alone (SQLite would create it with the
umask's mode, 0644 as a rule, and give its WAL and shared-memory files the same): it holds
names, birth dates, notes and the inbound messages as received, as var/ holds the keys.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from django.db.backends.sqlite3 import base

from careloop.write_gate import write_gate


class DatabaseWrapper(base.DatabaseWrapper):
    _gate: contextlib.ExitStack | None = None

    def get_new_connection(self, conn_params: Any) -> Any:
        _create_private(str(self.settings_dict["NAME"]))
        return super().get_new_connection(conn_params)

    def _start_transaction_under_autocommit(self) -> None:
        with contextlib.ExitStack() as gate:
            gate.enter_context(write_gate(str(self.settings_dict["NAME"])))
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in the stubs
            self._gate = gate.pop_all()

    def _leave_gate(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.close()

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._leave_gate()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._leave_gate()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._leave_gate()


def _create_private(name: str) -> None:
    """An empty database file (an empty SQLite database) of mode 0600, unless it exists or
    lives in memory (the tests'); when it cannot be made, SQLite says why as it opens it."""
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # FileExistsError as a rule
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

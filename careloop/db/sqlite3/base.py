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
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db.backends.sqlite3 import base

from careloop.write_gate import write_gate


class DatabaseWrapper(base.DatabaseWrapper):
    _gate: contextlib.ExitStack | None = None

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

"""The listener's durable store of raw messages: one INSERT per batch, one commit, no ORM.

This is the hottest write in the system (every message, before its ACK), so it uses a
DB-API connection of its own, opened through Django's backend (same settings, same
adapters) but driven directly from the listener's event loop: no thread hand-off, no ORM.
Each batch is one transaction with one durable commit (group commit); an accepted
(facility, control id) seen before is absorbed by the unique index (``ON CONFLICT DO
NOTHING``) and answered AA again without a new row — when it is the same message (stamped
again in MSH-7, perhaps). A *different* message under a control id already taken (a sender
whose counter restarted) is stored as rejected and answered AR naming MSH-10: never
acknowledged and dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.db import connections

from careloop.interop.hl7.message import HL7Error
from careloop.interop.ingest import COLUMNS, Incoming, SourceCache, SourceInfo
from careloop.interop.models import InboundMessage
from careloop.write_gate import write_gate

logger = logging.getLogger("careloop.mllp")


class InboundStore:
    """Open with :meth:`open` (it talks to Django's backend, so not from the event loop
    thread); then :meth:`write` may be called from the loop."""

    def __init__(self, transport: str = InboundMessage.Transport.MLLP) -> None:
        self.transport = transport
        self.wrapper = connections.create_connection("default")
        self.vendor = self.wrapper.vendor
        self.raw: Any = None
        quote = self.wrapper.ops.quote_name
        marker = "?" if self.vendor == "sqlite" else "%s"
        self.sql = (
            f"INSERT INTO {quote(InboundMessage._meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(c) for c in COLUMNS)}) "
            f"VALUES ({', '.join([marker] * len(COLUMNS))}) ON CONFLICT DO NOTHING"
        )
        self.stored_raw = (
            f"SELECT {quote('raw')} FROM {quote(InboundMessage._meta.db_table)} "  # noqa: S608
            f"WHERE {quote('sending_facility')} = {marker} AND {quote('control_id')} = {marker} "
            f"AND {quote('accepted')} ORDER BY {quote('id')} LIMIT 1"
        )
        name = str(self.wrapper.settings_dict["NAME"])
        self.sqlite_file = name if self.vendor == "sqlite" else None

    def open(self) -> None:
        raw = self.wrapper.get_new_connection(self.wrapper.get_connection_params())
        if self.vendor == "sqlite":
            raw.isolation_level = None  # we say BEGIN and COMMIT ourselves
            # A message is acknowledged only once it would survive a power cut: fsync the
            # WAL at every commit on this connection (PostgreSQL commits durably already).
            raw.execute("PRAGMA synchronous=FULL")
        else:
            raw.autocommit = True
            # One INSERT, run for every message: prepared once on this connection (the
            # listener's own), not parsed and planned again per message.
            raw.prepare_threshold = 0
        self.raw = raw

    def close(self) -> None:
        if self.raw is not None:
            try:
                self.raw.close()
            finally:
                self.raw = None

    def write(self, items: list[Incoming], source_of: Callable[[str], SourceInfo | None]) -> None:
        """Store the batch in one transaction; raises when it could not be stored (nothing
        of the batch is then stored)."""
        if self.raw is None:
            self.open()
        adapt = self.wrapper.ops.adapt_datetimefield_value
        rows = [self._row(item, source_of, adapt) for item in items]
        try:
            with write_gate(self.sqlite_file):
                if self.vendor == "sqlite":
                    self._write_sqlite(rows, items, source_of, adapt)
                else:
                    import psycopg  # server-side binding: no quoting of each value in Python

                    with self.raw.transaction(), psycopg.Cursor(self.raw) as cursor:
                        cursor.executemany(self.sql, rows)
                        if cursor.rowcount < len(rows):  # some absorbed: resent, or reused?
                            fetch = lambda sql, params: cursor.execute(sql, params).fetchone()  # noqa: E731
                            for row in self._reused(items, fetch, source_of, adapt):
                                cursor.execute(self.sql, row)
        except Exception:
            self.close()  # a broken connection is reopened on the next batch
            raise

    def _write_sqlite(
        self,
        rows: list[tuple[Any, ...]],
        items: list[Incoming],
        source_of: Callable[[str], SourceInfo | None],
        adapt: Callable[[Any], Any],
    ) -> None:
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            if self.raw.executemany(self.sql, rows).rowcount < len(rows):
                fetch = lambda sql, params: self.raw.execute(sql, params).fetchone()  # noqa: E731
                for row in self._reused(items, fetch, source_of, adapt):
                    self.raw.execute(self.sql, row)
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def _reused(
        self,
        items: list[Incoming],
        fetch: Callable[[str, tuple[Any, ...]], Any],
        source_of: Callable[[str], SourceInfo | None],
        adapt: Callable[[Any], Any],
    ) -> list[tuple[Any, ...]]:
        """The rows, as rejected, of accepted messages whose control id an earlier,
        different message of their sender holds (each marked AR naming MSH-10). Run only
        when the batch stored fewer rows than it had: rare, so one look-up per message."""
        rows = []
        for item in items:
            message = item.message
            if item.error is not None or message is None or not message.control_id:
                continue
            found = fetch(self.stored_raw, (item.facility[:100], message.control_id[:64]))
            if found is None or same_message(bytes(found[0]), item.raw):
                continue
            item.error = HL7Error(
                f"MSH-10: control id {message.control_id} was already used by another message "
                f"from {item.facility}; this one is kept but not imported: send it again under "
                "a control id of its own",
                code=205,  # duplicate key identifier
                segment="MSH",
                sequence=1,
                field=10,
                reject=True,
            )
            rows.append(self._row(item, source_of, adapt))
        return rows

    def _row(
        self,
        item: Incoming,
        source_of: Callable[[str], SourceInfo | None],
        adapt: Callable[[Any], Any],
    ) -> tuple[Any, ...]:
        message = item.message
        info = source_of(item.facility) if item.facility else None
        accepted = item.error is None
        status = InboundMessage.Status.RECEIVED if accepted else InboundMessage.Status.REJECTED
        return (
            adapt(item.received_at),
            self.transport,
            item.peer[:100],
            item.raw,
            item.encoding,
            info.id if info else None,
            (message.sending_application if message else "")[:100],
            item.facility[:100],
            (message.message_type if message else "")[:20],
            (message.control_id if message else "")[:64],
            (message.version if message else "")[:10],
            accepted,
            str(status),
            item.ack_code,
            str(item.error) if item.error else "",
            0,
            item.shard,
            item.urgent,
        )


def same_message(stored: bytes, received: bytes) -> bool:
    """Whether a message under a control id already taken is the stored one sent again:
    the same bytes, but for what the parser passes over (segment ends CR, LF or CRLF, blank
    lines, whitespace around the message) and MSH-7, the time the message was made, which
    a sender may stamp again when it resends."""
    return stored == received or _comparable(stored) == _comparable(received)


_LINES = re.compile(rb"\r\n|\r|\n")


def _comparable(raw: bytes) -> bytes:
    # As hl7.message.parse reads it: stripped, split on any segment end, blank lines skipped.
    lines = [line for line in _LINES.split(raw.strip(b"\x0b\x1c \t\r\n")) if line.strip()]
    if lines and lines[0].startswith(b"MSH") and len(lines[0]) > 3:
        separator = lines[0][3:4]
        fields = lines[0].split(separator)
        if len(fields) > 6:
            fields[6] = b""  # MSH-7
        lines[0] = separator.join(fields)
    return b"\r".join(lines)


__all__ = ["InboundStore", "SourceCache", "same_message"]

"""The MLLP listener (``careloop mllp``): many connections, one event loop, group commit.

Each connection reads frames (<VT> message <FS><CR>) and answers each with an ACK, in
order. A message is examined as it arrives (CPU only, no database); everything that
arrived during one turn of the event loop is then stored in one transaction with one
durable commit, and only then acknowledged. Storing from the loop itself (not a thread)
keeps the hand-offs off the hot path; the commit is short, and messages that arrive
meanwhile wait in the socket buffers and form the next batch. Bad input never stops the
listener: truncated or oversized frames get an AR (and are stored, never imported), a message
that fails to parse an AE/AR naming the problem, a storage failure an AE (the sender retries).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection

from careloop import heap
from careloop.interop.hl7.ack import build_ack, frame
from careloop.interop.hl7.message import HL7Error
from careloop.interop.hl7.read import PatientData, ReadMessage
from careloop.interop.inbound_store import InboundStore
from careloop.interop.ingest import (
    INCOMPLETE_FRAME,
    Incoming,
    SourceCache,
    SourceInfo,
    examine,
    key_problem,
    source_for,
)
from careloop.interop.patients import match_patient

logger = logging.getLogger("careloop.mllp")
VT, FS, CR = 0x0B, 0x1C, 0x0D
MAX_FRAME = 4 * 1024 * 1024
KEPT_OF_OVERSIZED = 64 * 1024  # what of a frame over MAX_FRAME is stored (its start)
IDLE_TIMEOUT = 30.0
# A sender ending its frames with <FS> alone (no <CR>: not MLLP, but some do): its frame is
# taken as whole when the next <VT> follows, or when the line stays quiet this long after it.
UNTERMINATED_GRACE = 0.5
MAX_BATCH = 500


@dataclass
class Frame:
    data: bytes
    problem: str = ""  # "truncated" or "too_large": answered AR without reading it


class FrameReader:
    """Splits a byte stream into MLLP frames."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.buffer = bytearray()
        self.max_frame = max_frame
        self.skipping = False  # inside an oversized frame, discarding until its end

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        while True:
            if self.skipping:
                end = self.buffer.find(bytes((FS, CR)))
                if end < 0:
                    del self.buffer[: max(0, len(self.buffer) - 1)]
                    return frames
                del self.buffer[: end + 2]
                self.skipping = False
                continue
            start = self.buffer.find(VT)
            if start < 0:
                self.buffer.clear()  # bytes outside any frame are noise
                return frames
            if start:
                del self.buffer[:start]
            end = self.buffer.find(bytes((FS, CR)), 1)
            restart = self.buffer.find(VT, 1)
            if restart >= 0 and (end < 0 or restart < end):
                if self.buffer[restart - 1] == FS:  # ended by <FS> alone, the next one begun
                    frames.append(Frame(bytes(self.buffer[1 : restart - 1])))
                else:
                    frames.append(Frame(bytes(self.buffer[1:restart]), "truncated"))
                del self.buffer[:restart]
                continue
            if end < 0:
                if len(self.buffer) > self.max_frame:
                    frames.append(Frame(bytes(self.buffer[1 : 1 + KEPT_OF_OVERSIZED]), "too_large"))
                    self.buffer.clear()
                    self.skipping = True
                return frames
            if end - 1 > self.max_frame:
                frames.append(Frame(bytes(self.buffer[1 : 1 + KEPT_OF_OVERSIZED]), "too_large"))
            else:
                frames.append(Frame(bytes(self.buffer[1:end])))
            del self.buffer[: end + 2]

    def pending(self) -> bool:
        return bool(self.buffer) and not self.skipping

    def unterminated(self) -> bool:
        """Whether what waits is a frame ended by <FS> alone (its <CR> may yet come)."""
        return self.pending() and len(self.buffer) > 1 and self.buffer[-1] == FS

    def take_unterminated(self) -> Frame:
        frame = Frame(bytes(self.buffer[1:-1]))
        self.buffer.clear()
        return frame


def rejected_frame(item: Frame, peer: str, sources: SourceCache, max_frame: int) -> Incoming:
    """A frame answered AR without being imported: stored all the same, as much of it as
    arrived (of an oversized one its first 64 KiB), so it is not lost and can be read on the
    messages page; never imported, not even by a reprocess (it is not the whole message).
    The AR names its control id when its MSH could be read."""
    text = {
        "truncated": "the MLLP frame was not complete (no <FS><CR> before the next <VT>, or "
        "the connection went quiet mid-message)",
        "too_large": f"the message is larger than {max_frame // 1024} KiB "
        f"(its first {KEPT_OF_OVERSIZED // 1024} KiB are kept)",
    }[item.problem]
    incoming = examine(item.data, peer, sources)
    incoming.error = HL7Error(f"{INCOMPLETE_FRAME}: {text}", code=100, reject=True)
    return incoming


def storage_failed(incoming: Incoming) -> bytes:
    error = HL7Error("the message could not be stored; please send it again", code=207)
    ack = build_ack(incoming.message, "AE", error, raw=incoming.raw)
    return frame(ack, incoming.encoding or "utf-8")


class Connection(asyncio.Protocol):
    """One sender's connection: frames in, ACKs out in the same order."""

    def __init__(self, server: MllpServer) -> None:
        self.server = server
        self.frames = FrameReader(server.max_frame)
        self.transport: asyncio.Transport | None = None
        self.peer = "unknown"
        self.last_data = time.monotonic()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        address = transport.get_extra_info("peername")
        if address:
            self.peer = f"{address[0]}:{address[1]}"
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        try:
            for item in self.frames.feed(data):
                if item.problem:
                    rejected = rejected_frame(
                        item, self.peer, self.server.sources, self.server.max_frame
                    )
                    self.server.submit(self, rejected)
                else:
                    examined = examine(
                        item.data,
                        self.peer,
                        self.server.sources,
                        self.server.knows,
                        self.server.check_keys,
                    )
                    self.server.submit(self, examined)
        except Exception:  # one connection's failure must not touch the others
            logger.exception("MLLP connection from %s failed", self.peer)
            if self.transport:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        self.server.store_cut(self)  # the sender hung up mid-frame: keep what arrived

    def take_cut(self) -> Frame | None:
        """The frame begun and never ended (its start byte and what followed), taken out;
        one ended by <FS> alone is whole."""
        if not self.frames.pending():
            return None
        if self.frames.unterminated():
            return self.frames.take_unterminated()
        cut = Frame(bytes(self.frames.buffer[1:]), "truncated")
        self.frames.buffer.clear()
        return cut

    # A sender that does not read its ACKs is not read from until it does.
    def pause_writing(self) -> None:
        if self.transport:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport:
            self.transport.resume_reading()

    def reply(self, data: bytes) -> None:
        if not self.closed and self.transport:
            self.transport.write(data)

    def went_quiet(self, now: float, idle_timeout: float) -> bool:
        if self.frames.unterminated():
            return now - self.last_data > min(UNTERMINATED_GRACE, idle_timeout)
        return self.frames.pending() and now - self.last_data > idle_timeout


class MllpServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_frame: int = MAX_FRAME,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.host, self.port = host, port
        self.max_frame = max_frame
        self.idle_timeout = idle_timeout
        self.sources = SourceCache()
        self.store = InboundStore()
        # Django's ORM is not for the event loop's thread: the rare lookups of sending
        # systems (and opening the store) run on this helper thread.
        self.django = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp-django")
        self.connections: set[Connection] = set()
        self.pending: list[tuple[Connection, Incoming | bytes]] = []
        self.flush_handle: asyncio.Handle | None = None
        self.server: asyncio.Server | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.refreshing = False
        self.stored = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.django, self.sources.load)
        await loop.run_in_executor(self.django, self.store.open)
        self.server = await loop.create_server(
            lambda: Connection(self), self.host, self.port, backlog=256
        )
        sockets: tuple = self.server.sockets or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.timer = loop.call_later(self._tick_interval(), self._tick)
        logger.info("MLLP listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        if self.timer:
            self.timer.cancel()
        self._flush()
        for item in list(self.connections):
            if item.transport:
                item.transport.close()
        self.store.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.django, _close_django_connection)
        self.django.shutdown(wait=True)

    def submit(self, conn: Connection, entry: Incoming | bytes) -> None:
        """Queue an answer (a ready reply, or a message to store first) for this turn."""
        self.pending.append((conn, entry))
        if self.flush_handle is None:
            self.flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_handle = None
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            items = [entry for _, entry in batch if isinstance(entry, Incoming)]
            failed = False
            if items:
                try:
                    self.store.write(items, self._source_of)
                except Exception as exc:
                    logger.error("could not store inbound messages: %s", type(exc).__name__)
                    failed = True
                else:
                    self.stored += len(items)
            for conn, entry in batch:
                if isinstance(entry, bytes):
                    conn.reply(entry)
                else:
                    conn.reply(storage_failed(entry) if failed else entry.ack())

    def _source_of(self, facility: str) -> SourceInfo | None:
        info = self.sources.get(facility)
        if info is None:  # first sight of this sender: register it (rare, so it may block)
            info = self.django.submit(source_for, facility, self.sources).result()
        return info

    def knows(self, patient: PatientData, facility: str) -> bool:
        """Whether a patient is enrolled under these identifiers: asked only of a message
        that could not register a new one (a LIS sending no birth date), so it may block."""
        return bool(self.django.submit(_is_enrolled, patient, facility).result())

    def check_keys(self, data: ReadMessage, facility: str, shard: int) -> HL7Error | None:
        """What a stay or merge event names, looked up (``ingest.key_problem``): asked only of
        those rare events, so it may block."""
        return self.django.submit(key_problem, data, facility, shard).result()

    def store_cut(self, conn: Connection) -> None:
        """Store (and answer AR, if the sender is still there) a frame left incomplete; one
        ended by <FS> alone is taken as a whole message."""
        cut = conn.take_cut()
        if cut is None or not cut.data.strip():
            return
        if cut.problem:
            self.submit(conn, rejected_frame(cut, conn.peer, self.sources, self.max_frame))
        else:
            self.submit(
                conn, examine(cut.data, conn.peer, self.sources, self.knows, self.check_keys)
            )

    def _tick_interval(self) -> float:
        return max(0.05, min(UNTERMINATED_GRACE / 2, self.idle_timeout / 4))

    def _tick(self) -> None:
        """Now and then: answer frames left incomplete on a quiet line; refresh senders."""
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        for conn in list(self.connections):
            if conn.went_quiet(now, self.idle_timeout):
                self.store_cut(conn)
        if self.sources.stale() and not self.refreshing:
            self.refreshing = True
            future = loop.run_in_executor(self.django, self.sources.load)
            future.add_done_callback(self._refreshed)
        self.timer = loop.call_later(self._tick_interval(), self._tick)

    def _refreshed(self, future: asyncio.Future[None]) -> None:
        self.refreshing = False
        if future.exception():
            logger.warning("could not refresh the sending systems: %s", future.exception())


def _is_enrolled(patient: PatientData, facility: str) -> bool:
    return match_patient(patient, facility) is not None


def _close_django_connection() -> None:
    connection.close()  # the calling thread's connection


async def serve_forever(host: str, port: int) -> None:
    server = MllpServer(host, port)
    await server.start()
    heap.settle()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("MLLP listener stopping")
    await server.stop()

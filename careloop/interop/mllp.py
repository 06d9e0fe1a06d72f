"""The MLLP listener (``careloop mllp``): many connections, one writer, group commit.

Each connection reads frames (<VT> message <FS><CR>) and answers each with an ACK, in
order. A message is examined in the event loop (CPU only), then handed to the single
writer thread, which stores everything that has queued up in one transaction, so one
durable commit covers many messages and the listener never waits on the database for
long. Bad input never stops the listener: truncated or oversized frames get an AR, a
message that fails to parse an AE/AR naming the problem, a storage failure an AE (the
sender retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from careloop.interop.hl7.ack import build_ack, frame
from careloop.interop.hl7.message import HL7Error
from careloop.interop.ingest import (
    Incoming,
    SourceCache,
    close_connection,
    examine,
    make_durable,
    store,
)

logger = logging.getLogger("careloop.mllp")
VT, FS, CR = 0x0B, 0x1C, 0x0D
MAX_FRAME = 4 * 1024 * 1024
IDLE_TIMEOUT = 30.0
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
                frames.append(Frame(bytes(self.buffer[1:restart]), "truncated"))
                del self.buffer[:restart]
                continue
            if end < 0:
                if len(self.buffer) > self.max_frame:
                    frames.append(Frame(b"", "too_large"))
                    self.buffer.clear()
                    self.skipping = True
                return frames
            if end - 1 > self.max_frame:
                frames.append(Frame(b"", "too_large"))
            else:
                frames.append(Frame(bytes(self.buffer[1:end])))
            del self.buffer[: end + 2]

    def pending(self) -> bool:
        return bool(self.buffer) and not self.skipping


def reject_frame(problem: str, max_frame: int) -> bytes:
    text = {
        "truncated": "the MLLP frame was not complete (no <FS><CR> before the next <VT>, or "
        "the connection went quiet mid-message)",
        "too_large": f"the message is larger than {max_frame // 1024} KiB",
    }[problem]
    return frame(build_ack(None, "AR", HL7Error(text, code=100, reject=True)), "utf-8")


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
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="mllp-store", initializer=make_durable
        )
        self.queue: asyncio.Queue[tuple[Incoming, asyncio.Future[None]]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.writer_task: asyncio.Task[None] | None = None
        self.stored = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.sources.load)
        self.writer_task = asyncio.create_task(self._writer())
        self.server = await asyncio.start_server(
            self._connection, self.host, self.port, limit=2**20, backlog=256
        )
        sockets: tuple = self.server.sockets or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info("MLLP listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        if self.writer_task:
            while not self.queue.empty():
                await asyncio.sleep(0.01)
            self.writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.writer_task
        await asyncio.get_running_loop().run_in_executor(self.executor, close_connection)
        self.executor.shutdown(wait=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if address else "unknown"
        frames = FrameReader(self.max_frame)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.idle_timeout)
                except TimeoutError:
                    if frames.pending():
                        frames.buffer.clear()
                        writer.write(reject_frame("truncated", self.max_frame))
                        await writer.drain()
                    continue
                if not data:
                    break
                for item in frames.feed(data):
                    if item.problem:
                        reply = reject_frame(item.problem, self.max_frame)
                    else:
                        reply = await self.accept(item.data, peer)
                    writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # one connection's failure must not touch the others
            logger.exception("MLLP connection from %s failed", peer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def accept(self, raw: bytes, peer: str) -> bytes:
        """Examine, store durably, then answer."""
        incoming = examine(raw, peer, self.sources)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.queue.put((incoming, done))
        try:
            await done
        except Exception as exc:
            logger.error("could not store an inbound message: %s", type(exc).__name__)
            error = HL7Error("the message could not be stored; please send it again", code=207)
            return frame(build_ack(incoming.message, "AE", error), incoming.encoding or "utf-8")
        return incoming.ack()

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await loop.run_in_executor(
                    self.executor, store, [i for i, _ in batch], self.sources
                )
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                self.stored += len(batch)
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


async def serve_forever(host: str, port: int) -> None:
    # The writer thread hands each commit back to the event loop; with the default 5 ms GIL
    # switch interval that hand-off alone would dominate the ACK latency.
    sys.setswitchinterval(0.0005)
    server = MllpServer(host, port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("MLLP listener stopping")
    await server.stop()

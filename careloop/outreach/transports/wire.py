"""A lean HTTP/1.1 client on asyncio streams, for batch sends: keep-alive connections
pooled per origin, bodies by Content-Length or chunked, no redirects, timeouts.

Why not httpx here: its connection pool does bookkeeping in proportion to the pool's size
on every request it starts and ends, so with hundreds of requests in flight (what a 200 ms
provider needs for 2,000 messages/s) the worker spends most of its CPU there
(bench/dispatch.py, docs/outreach.md). One request at a time (token fetches, single
sends) still goes through httpx."""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

from careloop.outreach.transports.base import HttpRequest, HttpResponse

CONNECT_TIMEOUT = 5.0
TIMEOUT = 10.0
MAX_HEADER_LINES = 100
MAX_BODY = 8 * 2**20

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class WireError(Exception):
    """The request could not be sent or its answer not read (the message says which)."""


class NothingBack(Exception):
    """The server closed a kept-alive connection before answering anything: the request
    was not taken, so sending it again on a new connection is safe."""


def _target(request: HttpRequest) -> tuple[str, str, int, str]:
    # The query apart from the cached split: Aliyun's carries each message's parameters (a
    # number, names), which would fill the cache and never be found in it again.
    where, _, query = request.url.partition("?")
    scheme, host, port, target = _split(where)
    if query:
        target += f"?{query}"
    if request.params:
        query = urlencode(request.params)
        target += f"&{query}" if "?" in target else f"?{query}"
    return scheme, host, port, target


@lru_cache(maxsize=64)
def _split(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and request target of a URL (a batch sends to the same few)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WireError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    return parts.scheme, parts.hostname, port, f"{path}?{parts.query}" if parts.query else path


def _head(
    method: str, host: str, port: int, scheme: str, target: str, request: HttpRequest
) -> bytes:
    default = 443 if scheme == "https" else 80
    # One Host line (a server must refuse a request with two: RFC 9112, 3.2): the request's
    # own when it names one (Tencent Cloud signs the Host header), else the URL's.
    given = {name.lower(): value for name, value in request.headers.items()}
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {given.get('host') or (host if port == default else f'{host}:{port}')}",
    ]
    lines += [
        f"{name}: {value}"
        for name, value in request.headers.items()
        if name.lower() not in ("host", "content-length")
    ]
    if request.body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> tuple[bytes, bool]:
    """The body, and whether the connection may be used again."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        size = 0
        while True:
            line = await reader.readline()
            length = int(line.split(b";")[0].strip() or b"0", 16)
            if length == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass  # trailers
                break
            size += length
            if size > MAX_BODY:
                raise WireError("the answer is too large")
            chunks.append(await reader.readexactly(length))
            await reader.readexactly(2)
        return b"".join(chunks), True
    if "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY:
            raise WireError("the answer is too large")
        return await reader.readexactly(length), True
    body = bytearray()
    while chunk := await reader.read(65536):  # until the server closes
        body += chunk
        if len(body) > MAX_BODY:
            raise WireError("the answer is too large")
    return bytes(body), False


class WireClient:
    """Connections per origin, reused while the server keeps them alive."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, str, int], list[Connection]] = defaultdict(list)
        self.tls: ssl.SSLContext | None = None  # made at the first https connection

    async def _connect(self, scheme: str, host: str, port: int) -> Connection:
        tls = None
        if scheme == "https":
            tls = self.tls = self.tls or ssl.create_default_context()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                return await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError as error:  # before OSError, its base class
            raise WireError("connect timeout") from error
        except OSError as error:  # refused, unreachable, TLS failures (ssl.SSLError)
            raise WireError(type(error).__name__) from error

    async def request(self, request: HttpRequest) -> HttpResponse:
        scheme, host, port, target = _target(request)
        origin = (scheme, host, port)
        head = _head(request.method.upper(), host, port, scheme, target, request)
        pool = self.idle[origin]
        reused = bool(pool)
        connection = pool.pop() if pool else await self._connect(scheme, host, port)
        try:
            async with asyncio.timeout(TIMEOUT):  # no task of its own, unlike wait_for
                status, body, keep = await self._exchange(connection, head + request.body)
        except TimeoutError as error:  # before OSError, its base class
            connection[1].close()
            raise WireError("timeout") from error
        except NothingBack as error:
            connection[1].close()
            if reused:  # a kept-alive connection the server had closed: once more
                return await self._once_more(origin, head + request.body)
            raise WireError("the server closed the connection") from error
        except (OSError, asyncio.IncompleteReadError, ValueError, WireError) as error:
            connection[1].close()  # something came back: never sent twice from here
            raise WireError(type(error).__name__) from error
        except asyncio.CancelledError:
            connection[1].close()  # a round that broke off: closed now, not by the GC
            raise
        if keep:
            pool.append(connection)
        else:
            connection[1].close()
        return HttpResponse(status, body)

    async def _once_more(self, origin: tuple[str, str, int], data: bytes) -> HttpResponse:
        connection = await self._connect(*origin)
        try:
            async with asyncio.timeout(TIMEOUT):
                status, body, keep = await self._exchange(connection, data)
        except (OSError, asyncio.IncompleteReadError, ValueError, NothingBack) as error:
            connection[1].close()
            raise WireError(type(error).__name__) from error
        except asyncio.CancelledError:
            connection[1].close()
            raise
        if keep:
            self.idle[origin].append(connection)
        else:
            connection[1].close()
        return HttpResponse(status, body)

    @staticmethod
    async def _exchange(connection: Connection, data: bytes) -> tuple[int, bytes, bool]:
        reader, writer = connection
        try:
            writer.write(data)
            await writer.drain()
            status_line = await reader.readline()
        except (ConnectionResetError, BrokenPipeError) as error:
            raise NothingBack from error
        if not status_line:
            raise NothingBack
        version, status, _reason = [*status_line.decode("latin-1").split(" ", 2), ""][:3]
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _sep, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise WireError("too many header lines")
        body, reusable = await _read_body(reader, headers)
        keep = (
            reusable
            and version.strip() == "HTTP/1.1"
            and headers.get("connection", "").lower() != "close"
        )
        return int(status), body, keep

    async def aclose(self) -> None:
        for pool in self.idle.values():
            for _reader, writer in pool:
                writer.close()
        self.idle.clear()

"""The one way out to providers: timeouts, no redirects, and nothing secret or personal in
the logs (only host, path, status and time). Sync for one message, async for batches."""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from careloop.outreach.transports.base import HttpRequest, HttpResponse, TransportError
from careloop.outreach.transports.wire import WireClient, WireError

logger = logging.getLogger("careloop.outreach.http")
TIMEOUT, CONNECT_TIMEOUT = 10.0, 5.0


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}"  # never the query: tokens and numbers live there


def _failed(request: HttpRequest, error: Exception) -> TransportError:
    logger.warning("%s %s failed: %s", request.method, _where(request.url), type(error).__name__)
    return TransportError(
        f"cannot reach {_where(request.url)}: {type(error).__name__}",
        permanent=False,
        code="network",
    )


def _arguments(request: HttpRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.url,
        "params": request.params or None,
        "headers": request.headers,
        "content": request.body or None,
    }


class SyncClient:
    """httpx, imported at the first request: a batch worker sending only through providers
    that need no token never loads it (a quarter of a second at each start)."""

    def __init__(self) -> None:
        self.client: Any = None

    def request(self, request: HttpRequest) -> HttpResponse:
        import httpx

        if self.client is None:
            timeout = httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT)
            self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        started = time.monotonic()
        try:
            response = self.client.request(**_arguments(request))
        except httpx.HTTPError as error:
            raise _failed(request, error) from error
        logger.debug(
            "%s %s → %s in %.0f ms",
            request.method,
            _where(request.url),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return HttpResponse(response.status_code, response.content)


class AsyncClient:
    """For a batch: many requests in flight over pooled keep-alive connections (``wire``);
    logs like the sync client, never a query string."""

    def __init__(self) -> None:
        self.client = WireClient()

    async def request(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self.client.request(request)
        except WireError as error:
            raise _failed(request, error) from error

    async def aclose(self) -> None:
        await self.client.aclose()


@cache
def sync_client() -> SyncClient:
    return SyncClient()

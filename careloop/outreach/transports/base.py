"""One small interface for every channel provider (STYLE.md; healthchecks' transports).

A transport turns an ``Outgoing`` message into one provider call and answers a ``Receipt``,
or raises ``TransportError`` saying whether trying again later could help. HTTP transports
split that into ``build`` (the exact request the provider documents) and ``parse`` (its
answer), so the dispatcher can send many at once and tests can check the request itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.functional import Promise


class TransportError(Exception):
    """The provider refused or could not be reached. ``permanent``: retrying the same
    message will not help (bad number, unapproved template, user unsubscribed);
    ``opted_out``: the recipient told the provider they want no more messages; ``renew``: the
    provider says the credential (an access token) has expired or is invalid, so the sender
    fetches a new one and sends the message once more at once."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = "",
        opted_out: bool = False,
        renew: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.opted_out = opted_out
        self.renew = renew


class ConfigError(ValueError):
    """The channel's configuration lacks a setting or a secret (named in the message)."""


@dataclass(frozen=True)
class Outgoing:
    """What to send: the rendered text, and for template-based providers the approved
    template's code and its parameters. ``key`` is the idempotency key, passed to providers
    that take one (Aliyun OutId, Tencent SessionContext) and returned in their receipts."""

    key: str
    to: str
    text: str
    subject: str = ""
    template_code: str = ""
    params: dict[str, str] = field(default_factory=dict)
    link: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # keypad digit → meaning (voice)


@dataclass(frozen=True)
class Receipt:
    provider_id: str = ""
    delivered: bool = False  # the provider confirmed delivery in its answer (outbox)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; any other body raises ``unexpected``'s error."""
        import json

        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise self.unexpected("a JSON body") from error
        if not isinstance(data, dict):
            raise self.unexpected("a JSON object")
        return data

    def unexpected(self, missing: str) -> TransportError:
        """The error for an answer without ``missing``: what its HTTP status says (4xx
        permanent), else temporary."""
        return http_status_error(self) or TransportError(
            f"provider answered HTTP {self.status} without {missing}",
            permanent=False,
            code=str(self.status),
        )


class Transport:
    """A provider. ``settings`` are the channel configuration's plain settings, ``secrets``
    its decrypted secrets. Subclasses name what they need in REQUIRED_*."""

    name: ClassVar[str]
    label: ClassVar[str | Promise]  # the provider's name, in the page's language
    channel: ClassVar[str]
    REQUIRED_SETTINGS: ClassVar[tuple[str, ...]] = ()
    REQUIRED_SECRETS: ClassVar[tuple[str, ...]] = ()
    # Chinese SMS and WeChat providers send only pre-approved templates.
    needs_template: ClassVar[bool] = False

    def __init__(self, settings: dict[str, Any], secrets: dict[str, str]) -> None:
        missing = [k for k in self.REQUIRED_SETTINGS if not settings.get(k)]
        missing += [k for k in self.REQUIRED_SECRETS if not secrets.get(k)]
        if missing:
            raise ConfigError(f"{self.name}: missing {', '.join(missing)}")
        self.settings = settings
        self.secrets = secrets

    def send(self, message: Outgoing) -> Receipt:
        raise NotImplementedError


class HttpTransport(Transport):
    """A provider reached by one HTTP request per message."""

    def build(self, message: Outgoing) -> HttpRequest:
        raise NotImplementedError

    def parse(self, response: HttpResponse) -> Receipt:
        raise NotImplementedError

    def prepare(self, client: Any) -> None:
        """Get what the requests need before building them (an access token)."""

    def renew(self, client: Any) -> None:
        """After an answer with ``renew``: get a new credential (may use the database)."""

    async def renew_async(self, client: Any, request: HttpRequest) -> None:
        """The same from a batch's event loop, where the database cannot be used: a new
        credential unless another request (``request`` is the refused one) got it already."""

    def settle(self) -> None:
        """After a batch, outside its event loop: keep what ``renew_async`` got."""

    def send(self, message: Outgoing) -> Receipt:
        from careloop.outreach.transports.http import sync_client

        client = sync_client()
        self.prepare(client)
        try:
            return self.parse(client.request(self.build(message)))
        except TransportError as error:
            if not error.renew:
                raise
        self.renew(client)  # the token had expired: a new one, and once more
        return self.parse(client.request(self.build(message)))


def http_status_error(response: HttpResponse) -> TransportError | None:
    """5xx and 429 are worth retrying; other non-2xx are not."""
    if response.status < 300:
        return None
    temporary = response.status >= 500 or response.status in (408, 429)
    return TransportError(
        f"provider answered HTTP {response.status}",
        permanent=not temporary,
        code=str(response.status),
    )

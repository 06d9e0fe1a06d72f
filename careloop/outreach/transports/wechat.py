"""WeChat Official Account (微信公众号) template and subscribe messages, and WeCom (企业微信)
application messages. Both need an access token, fetched once and shared by every worker
through the token store until shortly before it expires. An "invalid or expired token"
answer (40001, 40014, 42001) fetches a new one and sends the message once more at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar, Protocol

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import (
    HttpRequest,
    HttpResponse,
    HttpTransport,
    Outgoing,
    Receipt,
    TransportError,
)

TOKEN_INVALID = frozenset({40001, 40014, 42001})
# System busy (-1) and the API quotas (45009 a day, 45011 a minute, 45047); not 44002
# ("empty post data"), the request's fault.
TEMPORARY = frozenset({-1, 45009, 45011, 45047}) | TOKEN_INVALID
# The user unfollowed the account (43004 "require subscribe") or refused its subscribe
# messages (43101). Not 40003 ("invalid openid"): a wrong address, not the patient leaving.
UNSUBSCRIBED = frozenset({43004, 43101})
EARLY = 300  # seconds before expiry a token is renewed


class TokenStore(Protocol):
    def get(self, name: str) -> str | None: ...
    def put(self, name: str, token: str, ttl: int) -> None: ...
    def drop(self, name: str) -> None: ...


class MemoryTokens:
    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, float]] = {}

    def get(self, name: str) -> str | None:
        token, until = self.tokens.get(name, ("", 0.0))
        return token if until > time.time() else None

    def put(self, name: str, token: str, ttl: int) -> None:
        self.tokens[name] = (token, time.time() + ttl)

    def drop(self, name: str) -> None:
        self.tokens.pop(name, None)


_memory = MemoryTokens()


class TokenTransport(HttpTransport):
    """A provider whose calls carry ``access_token`` in the query."""

    API: ClassVar[str]
    tokens: TokenStore = _memory
    token: str = ""
    fresh: tuple[str, int] | None = None  # renewed in a batch, for the store (``settle``)
    stale: bool = False  # a batch was told the stored token is no good
    lock: asyncio.Lock | None = None
    # Each token a batch renewed, with the error when its renewal failed: the batch's other
    # requests refused with it do not fetch again (WeChat counts token calls; each may wait
    # out its timeout): they are sent once more with the new token, or fail as it did.
    renewed: dict[str, TransportError | None] | None = None

    def token_name(self) -> str:
        raise NotImplementedError

    def token_requests(self) -> list[HttpRequest]:
        """Where a token is asked for, in order: the next one only when a server has no such
        endpoint (HTTP 404)."""
        raise NotImplementedError

    def prepare(self, client: Any) -> None:
        name = self.token_name()
        token = self.tokens.get(name)
        if token is None:
            for request in self.token_requests():
                response = client.request(request)
                if response.status != 404:
                    break
            token, ttl = self.take(response)
            self.tokens.put(name, token, ttl)
        self.token = token

    def take(self, response: HttpResponse) -> tuple[str, int]:
        """The token of a token endpoint's answer, and how long to keep it."""
        data = response.json()
        if not data.get("access_token"):
            self.fail(data)
        return str(data["access_token"]), max(60, int(data.get("expires_in", 7200)) - EARLY)

    def renew(self, client: Any) -> None:
        self.tokens.drop(self.token_name())
        self.prepare(client)

    async def renew_async(self, client: Any, request: HttpRequest) -> None:
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:  # the batch's other requests with the old token wait for it
            used = request.params.get("access_token", self.token)
            self.renewed = self.renewed if self.renewed is not None else {}
            if used in self.renewed:  # tried already, by an earlier refused request
                if (failed := self.renewed[used]) is not None:
                    raise TransportError(str(failed), permanent=failed.permanent, code=failed.code)
                return
            if used != self.token:
                return  # renewed already, by an earlier refused request
            self.stale = True
            try:
                for token_request in self.token_requests():
                    response = await client.request(token_request)
                    if response.status != 404:
                        break
                self.token, ttl = self.take(response)
            except TransportError as error:
                self.renewed[used] = error
                raise
            self.renewed[used] = None
            self.fresh = (self.token, ttl)

    def settle(self) -> None:
        if self.fresh:
            self.tokens.put(self.token_name(), *self.fresh)
        elif self.stale:
            self.tokens.drop(self.token_name())
        self.fresh, self.stale, self.renewed = None, False, None

    def api(self) -> str:
        return (self.settings.get("api") or self.API).rstrip("/")

    def fail(self, data: dict[str, Any]) -> Receipt:
        """Raise the error an errcode means. Only raises: called while a batch's event loop
        runs, where the token store (the database) cannot be used."""
        code = int(data.get("errcode", -1))
        raise TransportError(
            f"{self.label} errcode {code}: {data.get('errmsg', '')}",
            permanent=code not in TEMPORARY,
            code=str(code),
            opted_out=code in UNSUBSCRIBED,
            renew=code in TOKEN_INVALID,
        )

    def parse(self, response: HttpResponse) -> Receipt:
        data = response.json()
        if data.get("errcode", 0) != 0:
            return self.fail(data)
        if response.status >= 300:
            raise response.unexpected("success")
        return Receipt(provider_id=str(data.get("msgid", "")))


class WechatOfficialAccount(TokenTransport):
    """Template message (模板消息, /cgi-bin/message/template/send) or, when the channel is
    configured with ``kind: subscribe``, subscribe message (/cgi-bin/message/subscribe/bizsend).
    ``to`` is the patient's openid for this account. Tokens come from /cgi-bin/stable_token,
    which several processes may call without invalidating each other's token, or, from a
    server without it (a hospital's WeChat gateway may offer only the older one), from
    /cgi-bin/token."""

    name = "wechat_mp"
    label = pgettext_lazy("provider", "WeChat Official Account")
    channel = "wechat"
    REQUIRED_SETTINGS = ("app_id",)
    REQUIRED_SECRETS = ("app_secret",)
    needs_template = True
    API = "https://api.weixin.qq.com"

    def token_name(self) -> str:
        return f"wechat:{self.settings['app_id']}"

    def token_requests(self) -> list[HttpRequest]:
        credentials = {
            "grant_type": "client_credential",
            "appid": self.settings["app_id"],
            "secret": self.secrets["app_secret"],
        }
        stable = HttpRequest(
            "POST",
            f"{self.api()}/cgi-bin/stable_token",
            headers={"Content-Type": "application/json"},
            body=json.dumps({**credentials, "force_refresh": False}).encode(),
        )
        return [stable, HttpRequest("GET", f"{self.api()}/cgi-bin/token", params=credentials)]

    def build(self, message: Outgoing) -> HttpRequest:
        data = {key: {"value": value} for key, value in message.params.items()}
        body: dict[str, Any] = {
            "touser": message.to,
            "template_id": message.template_code,
            "data": data,
        }
        if self.settings.get("kind") == "subscribe":
            path = "/cgi-bin/message/subscribe/bizsend"
            if message.link:
                body["page"] = message.link
        else:
            path = "/cgi-bin/message/template/send"
            if message.link:
                body["url"] = message.link
            body["client_msg_id"] = message.key[:64]  # WeChat drops a repeat within 24 h
        return HttpRequest(
            "POST",
            f"{self.api()}{path}",
            params={"access_token": self.token},
            headers={"Content-Type": "application/json"},
            body=json.dumps(body, ensure_ascii=False).encode(),
        )


class WecomApp(TokenTransport):
    """WeCom application message (/cgi-bin/message/send, text); ``to`` is the member's
    UserID. Tokens from /cgi-bin/gettoken with the corp id and the app's secret."""

    name = "wecom"
    label = pgettext_lazy("provider", "WeCom")
    channel = "wecom"
    REQUIRED_SETTINGS = ("corp_id", "agent_id")
    REQUIRED_SECRETS = ("corp_secret",)
    API = "https://qyapi.weixin.qq.com"

    def token_name(self) -> str:
        return f"wecom:{self.settings['corp_id']}:{self.settings['agent_id']}"

    def token_requests(self) -> list[HttpRequest]:
        return [
            HttpRequest(
                "GET",
                f"{self.api()}/cgi-bin/gettoken",
                params={
                    "corpid": self.settings["corp_id"],
                    "corpsecret": self.secrets["corp_secret"],
                },
            )
        ]

    def build(self, message: Outgoing) -> HttpRequest:
        text = f"{message.text}\n{message.link}" if message.link else message.text
        body = {
            "touser": message.to,
            "msgtype": "text",
            "agentid": int(self.settings["agent_id"]),
            "text": {"content": text},
            "safe": 0,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }
        return HttpRequest(
            "POST",
            f"{self.api()}/cgi-bin/message/send",
            params={"access_token": self.token},
            headers={"Content-Type": "application/json"},
            body=json.dumps(body, ensure_ascii=False).encode(),
        )

    def parse(self, response: HttpResponse) -> Receipt:
        data = response.json()
        if data.get("errcode", 0) == 0 and data.get("invaliduser"):
            raise TransportError(
                "企业微信: the recipient is not a member the app can reach",
                permanent=True,
                code="invaliduser",
            )
        return super().parse(response)

"""Channel transports and their registry: provider name → transport class."""

from __future__ import annotations

from careloop.outreach.transports.aliyun import AliyunSms, AliyunVoice
from careloop.outreach.transports.base import (
    ConfigError,
    HttpRequest,
    HttpResponse,
    HttpTransport,
    Outgoing,
    Receipt,
    Transport,
    TransportError,
)
from careloop.outreach.transports.email import Smtp
from careloop.outreach.transports.freeswitch import FreeswitchVoice
from careloop.outreach.transports.outbox import Outbox
from careloop.outreach.transports.tencent import TencentSms
from careloop.outreach.transports.webhook import Webhook
from careloop.outreach.transports.wechat import WechatOfficialAccount, WecomApp

TRANSPORTS: dict[str, type[Transport]] = {
    t.name: t
    for t in (
        Outbox,
        AliyunSms,
        TencentSms,
        WechatOfficialAccount,
        WecomApp,
        Smtp,
        AliyunVoice,
        FreeswitchVoice,
        Webhook,
    )
}
# The channels a machine reaches the patient on; phone calls and visits are staff work.
AUTOMATED_CHANNELS = ("sms", "wechat", "wecom", "voice", "email", "app")


def providers_for(channel: str) -> list[str]:
    return [n for n, t in TRANSPORTS.items() if t.channel in (channel, "*")]


def transport(provider: str, settings: dict, secrets: dict) -> Transport:
    try:
        cls = TRANSPORTS[provider]
    except KeyError:
        raise ConfigError(f"unknown provider {provider!r}") from None
    return cls(settings, secrets)


__all__ = [
    "AUTOMATED_CHANNELS",
    "TRANSPORTS",
    "ConfigError",
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "Outgoing",
    "Receipt",
    "Transport",
    "TransportError",
    "providers_for",
    "transport",
]

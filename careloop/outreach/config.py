"""Which provider a channel goes through for an organisation, and its transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from careloop.accounts.models import Organisation
from careloop.outreach.models import ChannelConfig
from careloop.outreach.transports import Transport, transport
from careloop.outreach.transports.freeswitch import FreeswitchVoice
from careloop.outreach.transports.wechat import TokenTransport

DEFAULT_CAP = 3


@dataclass(frozen=True)
class Resolved:
    provider: str
    weekly_cap: int
    config_id: int | None
    settings: dict[str, Any]
    secrets: dict[str, str]


OUTBOX = Resolved("outbox", DEFAULT_CAP, None, {}, {})


def channel_config(organisation_id: int, channel: str) -> Resolved:
    """The organisation's own setting, else its nearest ancestor's, else the platform's,
    else the built-in outbox. A disabled setting counts as none."""
    org = Organisation.objects.only("path").get(pk=organisation_id)
    row = org.nearest(ChannelConfig.objects.filter(channel=channel, enabled=True))
    if row is None:
        return OUTBOX
    return Resolved(row.provider, row.weekly_cap, row.pk, row.settings, row.secret_values())


def transport_for(resolved: Resolved) -> Transport:
    instance = transport(resolved.provider, resolved.settings, resolved.secrets)
    if isinstance(instance, TokenTransport):
        from careloop.outreach.tokens import DatabaseTokens

        instance.tokens = DatabaseTokens()
    if isinstance(instance, FreeswitchVoice) and resolved.config_id is not None:
        from careloop.outreach.receiving import ivr_urls

        instance.bind(*ivr_urls(resolved.config_id))
    return instance

"""Provider pushes, end to end: the request is stored (encrypted) before it is read; its
delivery reports move messages from sent to delivered or failed (a failure passes the
follow-up to the next channel); its replies, keypad answers and unsubscribe events go
through ``replies.receive``. A push that cannot be read is kept with the reason and answered
4xx, so the provider's console shows it and nothing is lost.

Aliyun and Tencent do not sign their pushes: the URL carries a token derived from the
server's secret key and the channel setting, shown in the channel's administration page.
WeChat signs its pushes with the channel's ``callback_token`` secret, checked as well."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from careloop.outreach import followthrough
from careloop.outreach.callbacks import (
    READERS,
    CallbackError,
    CallbackRequest,
    Inbound,
    Reading,
    Report,
)
from careloop.outreach.models import ChannelConfig, Message, ProviderCallback, Reply
from careloop.outreach.replies import receive

log = logging.getLogger(__name__)
S = Message.Status


def callback_token(config_id: int) -> str:
    return salted_hmac("careloop.outreach.callback", str(config_id)).hexdigest()[:32]


def token_matches(config_id: int, token: str) -> bool:
    return constant_time_compare(callback_token(config_id), token)


IVR_KINDS = ("ivr", "hangup")  # FreeSWITCH's: the IVR's next step, the end of a call


def _ivr_paths(config_id: int) -> dict[str, str]:
    token = callback_token(config_id)
    return {kind: reverse(f"outreach:{kind}", args=[config_id, token]) for kind in IVR_KINDS}


def ivr_urls(config_id: int) -> tuple[str, str]:
    """The whole addresses FreeSWITCH asks for a call's next step and reports its end at."""
    from django.conf import settings

    base = settings.CARELOOP_PUBLIC_URL.rstrip("/")
    paths = _ivr_paths(config_id)
    return base + paths["ivr"], base + paths["hangup"]


def callback_urls(config: ChannelConfig) -> dict[str, str]:
    """The paths to give the provider's console, one per kind of push."""
    if config.provider == "freeswitch_voice" and config.pk is not None:
        return _ivr_paths(config.pk)
    reader = READERS.get(config.provider)
    if reader is None or config.pk is None:
        return {}
    token = callback_token(config.pk)
    return {
        kind: reverse("outreach:callback", args=[config.pk, token, kind]) for kind in reader.kinds
    }


@dataclass
class Handled:
    status: int
    body: bytes
    content_type: str


def handle(config: ChannelConfig, kind: str, request: CallbackRequest) -> Handled:
    reader = READERS[config.provider]()
    stored = ProviderCallback.objects.create(
        config=config,
        provider=config.provider,
        kind=kind,
        body=ProviderCallback.encode(request.body),
    )
    try:
        reading = reader.read(
            kind,
            CallbackRequest(
                request.method,
                request.query,
                request.body,
                config.secret_values(),
                {k: str(v) for k, v in (config.settings or {}).items()},
            ),
        )
    except CallbackError as error:
        stored.status, stored.error = ProviderCallback.Status.REJECTED, str(error)[:300]
        stored.save(update_fields=["status", "error"])
        detail = {"code": error.status, "msg": str(error)}
        return Handled(
            error.status, json.dumps(detail, ensure_ascii=False).encode(), "application/json"
        )
    early = apply(config, reader.channel, reading, stored)
    if early:
        # Reports about messages whose send is still being recorded: the provider re-sends
        # the push later (what was applied now is not applied twice).
        detail = {"code": 503, "msg": f"{early} reports came before their messages were recorded"}
        return Handled(503, json.dumps(detail).encode(), "application/json")
    return Handled(200, reading.answer, reading.content_type)


def apply(config: ChannelConfig, channel: str, reading: Reading, stored: ProviderCallback) -> int:
    """Act on a push; returns how many of its reports came too early."""
    stored.reports, early = apply_reports(config, reading.reports)
    errors = 0
    for n, item in enumerate(reading.inbound):
        try:
            if apply_inbound(config, channel, item, f"callback {stored.pk} item {n}"):
                stored.replies += 1
        except Exception:  # the reply is stored and waits in the inbox; go on with the rest
            log.exception("reading reply %s of callback %s failed", n, stored.pk)
            errors += 1
    stored.status = ProviderCallback.Status.FAILED if errors else ProviderCallback.Status.PROCESSED
    stored.error = f"{errors} replies could not be read" if errors else ""
    if early:
        stored.status = ProviderCallback.Status.FAILED
        stored.error = f"{early} reports before their messages were recorded; answered 503"
    stored.save(update_fields=["status", "error", "reports", "replies"])
    return early


def sent_message(config: ChannelConfig, key: str, provider_id: str) -> Message | None:
    """The message a push is about, among those the pushing setting could have sent: its
    organisation's and the organisations below (a platform-wide setting: any)."""
    messages = Message.objects.filter(provider=config.provider)
    if config.organisation_id is not None:
        assert config.organisation is not None
        messages = messages.filter(organisation__path__startswith=config.organisation.path)
    found = messages.filter(key=key).first() if key else None
    if found is None and provider_id:
        found = messages.filter(provider_id=provider_id).first()
    return found


def apply_reports(config: ChannelConfig, reports: list[Report]) -> tuple[int, int]:
    """Delivered or failed, for messages still marked sent (a repeated report is harmless).
    Returns (messages changed, reports about messages still being sent: too early)."""
    now = timezone.now()
    changed, early, failed = 0, 0, []
    with transaction.atomic():
        for report in reports:
            message = sent_message(config, report.key, report.provider_id)
            if message is not None and message.status in (S.QUEUED, S.SENDING):
                early += 1
            if message is None or message.status != S.SENT:
                continue
            if report.delivered:
                message.status, message.delivered_at = S.DELIVERED, now
            else:
                message.status = S.FAILED
                message.error_code = report.code[:64]
                message.error = (report.error or report.code or "not delivered")[:300]
                failed.append(message)
            message.save(update_fields=["status", "delivered_at", "error_code", "error"])
            changed += 1
        followthrough.after_failure(failed, now)
    return changed, early


def apply_inbound(config: ChannelConfig, channel: str, item: Inbound, raw: str) -> Reply | None:
    """The patient's reply, keys or unsubscribe as a Reply (None: already received)."""
    provider = config.provider
    if (
        item.external_id
        and Reply.objects.filter(provider=provider, external_id=item.external_id).exists()
    ):
        return None
    message = sent_message(config, item.key, item.provider_id)
    text = item.text
    if item.keypad:
        keys = message.keys if message is not None else {}
        text = keys.get(item.keypad) or keys.get(item.keypad[:1]) or f"按键 {item.keypad}"
    try:
        return receive(
            channel,
            text,
            provider=provider,
            sender=item.sender,
            raw=raw,
            message=message,
            unsubscribe=item.unsubscribe,
            external_id=item.external_id,
            organisation_id=config.organisation_id,
        )
    except IntegrityError:  # the same push, read at the same moment by another worker
        if (
            item.external_id
            and Reply.objects.filter(provider=provider, external_id=item.external_id).exists()
        ):
            return None
        raise

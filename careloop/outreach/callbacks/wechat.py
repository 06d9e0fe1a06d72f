"""WeChat Official Account server push (服务器配置, plaintext mode). The URL is verified by
a GET echoing ``echostr``; every request carries ``signature`` = SHA1 of the sorted
(Token, timestamp, nonce). Messages arrive as XML: a text message is a reply, the
``unsubscribe`` event means the patient left the account, ``TEMPLATESENDJOBFINISH`` is the
delivery report of a template message. WeChat expects ``success`` back."""

from __future__ import annotations

import hashlib
import hmac
import time
import xml.etree.ElementTree as ET

from careloop.outreach.callbacks.base import (
    CallbackError,
    CallbackRequest,
    Inbound,
    Reader,
    Reading,
    Report,
)

MAX_SKEW = 600  # seconds


def signature(token: str, timestamp: str, nonce: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


class WechatReader(Reader):
    provider = "wechat_mp"
    channel = "wechat"
    kinds = ("events",)

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        self.verify(request)
        if request.method == "GET":
            echo = request.query.get("echostr", "")
            return Reading(answer=echo.encode(), content_type="text/plain")
        fields = self.fields(request.body)
        reading = Reading(answer=b"success", content_type="text/plain")
        sender = fields.get("FromUserName", "")
        kind_of = fields.get("MsgType", "")
        event = fields.get("Event", "")
        if kind_of == "text":
            reading.inbound.append(
                Inbound(
                    sender=sender,
                    text=fields.get("Content", ""),
                    external_id=fields.get("MsgId", ""),
                )
            )
        elif kind_of == "event" and event == "unsubscribe":
            reading.inbound.append(
                Inbound(
                    sender=sender,
                    unsubscribe=True,
                    external_id=f"unsubscribe:{sender}:{fields.get('CreateTime', '')}",
                )
            )
        elif kind_of == "event" and event == "TEMPLATESENDJOBFINISH":
            status = fields.get("Status", "")
            reading.reports.append(
                Report(
                    delivered=status == "success",
                    provider_id=fields.get("MsgID", ""),
                    code=status,
                    error="" if status == "success" else status,
                )
            )
        return reading

    def verify(self, request: CallbackRequest) -> None:
        token = request.secrets.get("callback_token", "")
        if not token:
            raise CallbackError("the channel has no callback_token secret", status=403)
        stamp, nonce = request.query.get("timestamp", ""), request.query.get("nonce", "")
        if not (stamp.isascii() and stamp.isdecimal()) or abs(time.time() - int(stamp)) > MAX_SKEW:
            raise CallbackError("timestamp is missing or more than 10 minutes off", status=403)
        wanted = signature(token, stamp, nonce)
        given = request.query.get("signature", "").encode("utf-8", "replace")
        if not hmac.compare_digest(wanted.encode(), given):
            raise CallbackError("signature does not match", status=403)

    @staticmethod
    def fields(body: bytes) -> dict[str, str]:
        if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
            raise CallbackError("XML with a DOCTYPE or entities is refused")
        try:
            root = ET.fromstring(body)  # noqa: S314 (no DOCTYPE, so no entities: checked above)
        except ET.ParseError as error:
            raise CallbackError(f"the body is not XML: {error}") from error
        fields = {child.tag: (child.text or "").strip() for child in root}
        if "Encrypt" in fields and "MsgType" not in fields:
            raise CallbackError("encrypted (safe mode) messages are not supported: use plaintext")
        if not fields.get("MsgType"):
            raise CallbackError("MsgType is missing")
        return fields

"""WeChat Official Account server push (服务器配置) and WeCom application callbacks (接收消息).

Official Account: the URL is verified by a GET echoing ``echostr``; every request carries
``signature`` = SHA1 of the sorted (Token, timestamp, nonce). Messages arrive as XML, in
plaintext mode as they are, in safe mode (安全模式) inside ``Encrypt`` with ``msg_signature``
(``wxcrypt``: the channel's ``encoding_aes_key`` secret, the AppID its ``app_id`` setting);
compatible mode carries both and is read from the encrypted part when the key is set. A text
message is a reply, the ``unsubscribe`` event means the patient left the account,
``TEMPLATESENDJOBFINISH`` is the delivery report of a template message, and for a channel of
subscribe messages a declined subscription (``reject``, or 43101 as one was sent) an opt-out.
WeChat expects ``success`` back.

WeCom: always encrypted (the same scheme, the CorpID as receiver); the URL is verified by a GET
whose ``echostr`` is encrypted and answered decrypted. A member's text message is a reply, the
``unsubscribe`` event (the member left the app) an opt-out of the channel. An empty answer."""

from __future__ import annotations

import hashlib
import hmac
import time
import xml.etree.ElementTree as ET

from careloop.outreach.callbacks import wxcrypt
from careloop.outreach.callbacks.base import (
    CallbackError,
    CallbackRequest,
    Inbound,
    Reader,
    Reading,
    Report,
)

MAX_SKEW = 600  # seconds
# TEMPLATESENDJOBFINISH's Status when the user refuses the account's template messages
# (用户拒收); "failed: system failed" is any other failure.
USER_BLOCK = "failed:user block"
# Subscribe-message events (订阅通知的事件推送): the user's answer to a subscription popup, a
# change in their notification settings, and the outcome of a message sent. bizsend answers
# no msgid, so the last cannot be matched to a message: only a refusal is read from them.
SUBSCRIBE_EVENTS = frozenset(
    {"subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event"}
)


def signature(token: str, timestamp: str, nonce: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


def now() -> float:
    return time.time()


def _fresh(request: CallbackRequest) -> tuple[str, str]:
    """(timestamp, nonce) of the push, the timestamp within 10 minutes of now."""
    stamp, nonce = request.query.get("timestamp", ""), request.query.get("nonce", "")
    if not (stamp.isascii() and stamp.isdecimal()) or abs(now() - int(stamp)) > MAX_SKEW:
        raise CallbackError("timestamp is missing or more than 10 minutes off", status=403)
    return stamp, nonce


def _secret(request: CallbackRequest, name: str) -> str:
    value = request.secrets.get(name, "")
    if not value:
        raise CallbackError(f"the channel has no {name} secret", status=403)
    return value


def xml_fields(body: bytes) -> dict[str, str]:
    """The child elements of the root, as text."""
    return {child.tag: (child.text or "").strip() for child in _root(body)}


def subscribe_items(body: bytes) -> list[dict[str, str]]:
    """The ``List`` items of a subscribe-message event, wherever they are nested (WeChat's
    own sample of the change event nests them under ``SubscribeMsgPopupEvent``)."""
    return [{c.tag: (c.text or "").strip() for c in item} for item in _root(body).iter("List")]


def _root(body: bytes) -> ET.Element:
    """WeChat and WeCom send UTF-8: the body is decoded as such first, so a DOCTYPE (where
    entities are declared) is found whatever the encoding it came in, and refused; so are
    other encodings and NUL characters."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CallbackError("the body is not UTF-8") from error
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise CallbackError("XML with a DOCTYPE or entities is refused")
    if "\x00" in text:
        raise CallbackError("the body contains a NUL character")
    try:  # parsed as text: an encoding named in its declaration is not used
        root = ET.fromstring(text)  # noqa: S314 (no DOCTYPE, so no entities: checked above)
    except ET.ParseError as error:
        raise CallbackError(f"the body is not XML: {error}") from error
    return root


def _opened(request: CallbackRequest, outer: dict[str, str], receiver: str) -> dict[str, str]:
    """The fields inside ``Encrypt``, after its ``msg_signature`` is checked."""
    return xml_fields(_opened_text(request, outer["Encrypt"], receiver))


def _opened_text(request: CallbackRequest, encrypted: str, receiver: str) -> bytes:
    stamp, nonce = _fresh(request)
    token = _secret(request, "callback_token")
    key = wxcrypt.aes_key(_secret(request, "encoding_aes_key"))
    wxcrypt.check_signature(token, stamp, nonce, encrypted, request.query.get("msg_signature", ""))
    return wxcrypt.decrypt(key, encrypted, receiver)


def _leaving(sender: str, why: str, when: str) -> Inbound:
    """The patient leaving the channel; ``why`` and ``when`` keep a resent push from counting
    twice."""
    return Inbound(sender=sender, unsubscribe=True, external_id=f"{why}:{sender}:{when}")


def _messages(fields: dict[str, str], reading: Reading) -> Reading:
    """A text message → a reply; the unsubscribe event → leaving the channel."""
    sender, kind_of = fields.get("FromUserName", ""), fields.get("MsgType", "")
    if not kind_of:
        raise CallbackError("MsgType is missing")
    if kind_of == "text":
        reading.inbound.append(
            Inbound(
                sender=sender, text=fields.get("Content", ""), external_id=fields.get("MsgId", "")
            )
        )
    elif kind_of == "event" and fields.get("Event", "") == "unsubscribe":
        reading.inbound.append(_leaving(sender, "unsubscribe", fields.get("CreateTime", "")))
    return reading


class WechatReader(Reader):
    provider = "wechat_mp"
    channel = "wechat"
    kinds = ("events",)
    verified_by_get = True

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        self.verify(request)
        if request.method == "GET":
            echo = request.query.get("echostr", "")
            return Reading(answer=echo.encode(), content_type="text/plain")
        fields = xml_fields(request.body)
        if request.secrets.get("encoding_aes_key") and "Encrypt" not in fields:
            # With a key the account is in safe or compatible mode, which always encrypt; a
            # plain body is signed only through its URL, and is refused.
            raise CallbackError("Encrypt is missing: the channel has an encoding_aes_key")
        body = request.body
        if "Encrypt" in fields:
            body = _opened_text(request, fields["Encrypt"], request.settings.get("app_id", ""))
            fields = xml_fields(body)
        reading = _messages(fields, Reading(answer=b"success", content_type="text/plain"))
        event = fields.get("Event", "") if fields.get("MsgType") == "event" else ""
        if event in SUBSCRIBE_EVENTS and request.settings.get("kind") == "subscribe":
            # The patient declined the account's subscribe messages (a popup's 取消, turned
            # off in the notification settings, or a message refused as it was sent): an
            # opt-out, as WeChat would refuse every one sent from now on (43101).
            items = subscribe_items(body)
            if any(
                i.get("SubscribeStatusString") == "reject" or i.get("ErrorCode") == "43101"
                for i in items
            ):
                sender = fields.get("FromUserName", "")
                reading.inbound.append(_leaving(sender, event, fields.get("CreateTime", "")))
        if fields.get("MsgType") == "event" and fields.get("Event") == "TEMPLATESENDJOBFINISH":
            status = fields.get("Status", "")
            reading.reports.append(
                Report(
                    delivered=status == "success",
                    provider_id=fields.get("MsgID", ""),
                    code=status,
                    error="" if status == "success" else status,
                )
            )
            if status == USER_BLOCK:  # the patient refuses the account's template messages
                sender = fields.get("FromUserName", "")
                reading.inbound.append(_leaving(sender, "block", fields.get("MsgID", "")))
        return reading

    def verify(self, request: CallbackRequest) -> None:
        token = _secret(request, "callback_token")
        stamp, nonce = _fresh(request)
        wanted = signature(token, stamp, nonce)
        given = request.query.get("signature", "").encode("utf-8", "replace")
        if not hmac.compare_digest(wanted.encode(), given):
            raise CallbackError("signature does not match", status=403)


class WecomReader(Reader):
    provider = "wecom"
    channel = "wecom"
    kinds = ("events",)
    verified_by_get = True

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        corp_id = request.settings.get("corp_id", "")
        if request.method == "GET":  # URL check: echostr is encrypted, answered in plain
            echo = request.query.get("echostr", "")
            opened = _opened_text(request, echo, corp_id)
            return Reading(answer=opened, content_type="text/plain")
        outer = xml_fields(request.body)
        if not outer.get("Encrypt"):
            raise CallbackError("Encrypt is missing: WeCom callbacks are always encrypted")
        return _messages(
            _opened(request, outer, corp_id), Reading(answer=b"", content_type="text/plain")
        )

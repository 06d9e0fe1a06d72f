"""Aliyun (阿里云) RPC-style API calls: SMS (Dysmsapi SendSms) and voice notification
(Dyvmsapi SingleCallByTts / IvrCall), signed with HMAC-SHA1 as Aliyun documents:

    StringToSign = "POST&%2F&" + percent(sorted "k=v" pairs joined by "&")
    Signature    = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime
from functools import lru_cache
from typing import ClassVar

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import (
    HttpRequest,
    HttpResponse,
    HttpTransport,
    Outgoing,
    Receipt,
    TransportError,
)
from careloop.patients.identity import dialled_digits

# Codes Aliyun documents as "try again later"; any other non-OK code is permanent
# (isp.RAM_PERMISSION_DENY: the AccessKey lacks the permission, a setting to fix).
TEMPORARY_CODES = frozenset(
    {
        "isp.SYSTEM_ERROR",
        "isv.BUSINESS_LIMIT_CONTROL",  # per-minute or per-hour flow control: later
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "Throttling.User",
        "Throttling",
        "ServiceUnavailable",
        "InternalError",
    }
)
# Not isv.BLACK_KEY_CONTROL_LIMIT: that is a blacklisted keyword in a template variable
# (模板变量中存在黑名单关键字), the message's fault, not the patient leaving.
UNSUBSCRIBED_CODES = frozenset({"isv.PHONE_NUMBER_BLACK"})
# A day's limit reached (isv.DAY_LIMIT_CONTROL; the flow control "触发天级流控" for one number):
# retrying within the backoff's hour cannot work, so the next channel is tried at once.


def permanent(code: str, text: str) -> bool:
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        return "天级" in text
    return code not in TEMPORARY_CODES


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


class _Encoded(dict[int, str]):
    """Each character as Aliyun wants it (for ``str.translate``): an unreserved one as
    itself, any other as its UTF-8 bytes in %XX; worked out the first time it is met."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if _UNRESERVED.fullmatch(char):
            encoded = char
        else:
            encoded = "".join(f"%{b:02X}" for b in char.encode())
        self[code] = encoded
        return encoded


_ENCODED = _Encoded()


def percent(value: str) -> str:
    """Aliyun's percent-encoding: RFC 3986 unreserved characters kept, space as %20. (Most
    values need none: they are returned as they are. The others go through one
    ``str.translate``, several times faster than ``urllib.parse.quote``.)"""
    if _UNRESERVED.fullmatch(value):
        return value
    return value.translate(_ENCODED)


TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"  # UTC, as Aliyun's Timestamp wants it


@lru_cache(maxsize=4)
def _this_second(second: int) -> str:
    """The Timestamp for a second since the epoch: written once, sent with many requests."""
    return time.strftime(TIMESTAMP, time.gmtime(second))


_name = lru_cache(maxsize=256)(percent)  # parameter names: the same few every time
_json = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one per call


def sign(params: dict[str, str], secret: str, method: str = "POST") -> str:
    return _signature({percent(k): percent(v) for k, v in params.items()}, secret, method)


def _signature(encoded: dict[str, str], secret: str, method: str) -> str:
    """The signature over parameters already percent-encoded (keys and values). The
    canonical string then holds only unreserved characters, "%", "=" and "&", so encoding
    it again is three replacements (``quote`` went through it byte by byte in Python)."""
    canonical = "&".join(f"{k}={encoded[k]}" for k in sorted(encoded))
    again = canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    to_sign = f"{method}&%2F&{again}"
    digest = hmac.digest(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1)
    return base64.b64encode(digest).decode()


def rpc_request(
    endpoint: str,
    action: str,
    version: str,
    params: dict[str, str],
    *,
    key_id: str,
    secret: str,
    region: str = "cn-hangzhou",
    now: datetime | None = None,
    nonce: str | None = None,
) -> HttpRequest:
    common = {
        "AccessKeyId": key_id,
        "Action": action,
        "Format": "JSON",
        "RegionId": region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": now.strftime(TIMESTAMP) if now else _this_second(int(time.time())),
        "Version": version,
    }
    encoded = {_name(k): percent(v) for k, v in {**common, **params}.items()}
    encoded["Signature"] = percent(_signature(encoded, secret, "POST"))
    # In the query string, as Dysmsapi/Dyvmsapi's OpenAPI metadata places these parameters
    # ("in": "query") and Aliyun's own SDK sends them (POST, no body); already encoded as
    # the signature has them (RFC 3986: %20, not +).
    query = "&".join(f"{k}={v}" for k, v in encoded.items())
    return HttpRequest(
        "POST",
        f"{endpoint.rstrip('/')}/?{query}",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


def answer(response: HttpResponse, id_field: str) -> Receipt:
    """An Aliyun answer: {"Code": "OK", "BizId"/"CallId": …} or an error code."""
    data = response.json()
    code = str(data.get("Code", ""))
    if code == "OK":
        return Receipt(provider_id=str(data.get(id_field, "")))
    if not code:
        raise response.unexpected("a Code")
    raise TransportError(
        f"Aliyun {code}: {data.get('Message', '')}",
        permanent=permanent(code, str(data.get("Message", ""))),
        code=code,
        opted_out=code in UNSUBSCRIBED_CODES,
    )


class AliyunBase(HttpTransport):
    REQUIRED_SECRETS = ("access_key_id", "access_key_secret")
    needs_template = True
    ENDPOINT: ClassVar[str]
    VERSION: ClassVar[str] = "2017-05-25"

    def call(self, action: str, params: dict[str, str]) -> HttpRequest:
        return rpc_request(
            self.settings.get("endpoint") or self.ENDPOINT,
            action,
            self.VERSION,
            params,
            key_id=self.secrets["access_key_id"],
            secret=self.secrets["access_key_secret"],
            region=self.settings.get("region") or "cn-hangzhou",
        )


class AliyunSms(AliyunBase):
    """Dysmsapi SendSms: a signature name (签名) and an approved template code with its
    parameters; OutId carries our idempotency key into the delivery report."""

    name = "aliyun_sms"
    label = pgettext_lazy("provider", "Aliyun SMS")
    channel = "sms"
    REQUIRED_SETTINGS = ("sign_name",)
    ENDPOINT = "https://dysmsapi.aliyuncs.com"

    def build(self, message: Outgoing) -> HttpRequest:
        return self.call(
            "SendSms",
            {
                "PhoneNumbers": message.to,
                "SignName": self.settings["sign_name"],
                "TemplateCode": message.template_code,
                "TemplateParam": _json(message.params),
                "OutId": message.key,
            },
        )

    def parse(self, response: HttpResponse) -> Receipt:
        return answer(response, "BizId")


OUT_ID_MAX = 15


class AliyunVoice(AliyunBase):
    """Dyvmsapi voice notification: SingleCallByTts reads an approved TTS template; with
    keypad choices, IvrCall plays it and reports the key pressed in its call report."""

    name = "aliyun_voice"
    label = pgettext_lazy("provider", "Aliyun voice notification")
    channel = "voice"
    REQUIRED_SETTINGS = ("show_number",)
    ENDPOINT = "https://dyvmsapi.aliyuncs.com"

    def build(self, message: Outgoing) -> HttpRequest:
        params = {
            "CalledShowNumber": self.settings["show_number"],
            # A landline as its area code and number in digits (010-62345678 → 01062345678),
            # as Dyvmsapi takes a fixed-line number; a mobile as it is.
            "CalledNumber": dialled_digits(message.to),
            "PlayTimes": str(self.settings.get("play_times", 2)),
        }
        # Dyvmsapi takes an OutId of 1 to 15 bytes only (SingleCallByTts, IvrCall): a longer
        # key (task:10000:voice and on) is left out, and the call report is matched by its
        # call_id, the CallId the call was answered with.
        if len(message.key.encode()) <= OUT_ID_MAX:
            params["OutId"] = message.key
        tts = _json(message.params)
        if not message.keys:
            params.update(TtsCode=message.template_code, TtsParam=tts)
            return self.call("SingleCallByTts", params)
        params.update(StartCode=message.template_code, StartTtsParams=tts, Timeout="10000")
        for n, digit in enumerate(sorted(message.keys), start=1):
            params[f"MenuKeyMap.{n}.Key"] = digit
            params[f"MenuKeyMap.{n}.Code"] = self.settings.get("key_code", message.template_code)
        return self.call("IvrCall", params)

    def parse(self, response: HttpResponse) -> Receipt:
        return answer(response, "CallId")

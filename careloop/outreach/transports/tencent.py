"""Tencent Cloud SMS (腾讯云短信) API 3.0 SendSms, signed with TC3-HMAC-SHA256:

- canonical request: method, "/", empty query, the content-type and host headers, their
  names, and the hex SHA-256 of the body, one per line;
- string to sign: "TC3-HMAC-SHA256", the timestamp, "<date>/sms/tc3_request" and the hex
  SHA-256 of the canonical request;
- key: HMAC(HMAC(HMAC("TC3" + SecretKey, date), "sms"), "tc3_request").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import (
    HttpRequest,
    HttpResponse,
    HttpTransport,
    Outgoing,
    Receipt,
    TransportError,
)
from careloop.patients.identity import normalise_phone

SERVICE = "sms"
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
TEMPORARY_PREFIXES = ("InternalError", "LimitExceeded", "RequestLimitExceeded")
# UnknownParameter (a parameter the API does not know) is the request's fault: permanent.
TEMPORARY_CODES = frozenset(
    {"FailedOperation.InsufficientBalanceInSmsPackage", "ResourceUnavailable"}
)
UNSUBSCRIBED_CODES = frozenset({"FailedOperation.PhoneNumberInBlacklist"})


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def authorization(
    secret_id: str,
    secret_key: str,
    host: str,
    body: bytes,
    timestamp: int,
    service: str = SERVICE,
) -> str:
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def e164(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{normalise_phone(phone)}"


def _error(code: str, text: str) -> TransportError:
    temporary = code in TEMPORARY_CODES or code.startswith(TEMPORARY_PREFIXES)
    if code.endswith("DailyLimit"):  # a day's limit (of the number, the app, the account):
        temporary = False  # retrying within the backoff's hour cannot work; the next channel
    return TransportError(
        f"Tencent Cloud {code}: {text}",
        permanent=not temporary,
        code=code,
        opted_out=code in UNSUBSCRIBED_CODES,
    )


class TencentSms(HttpTransport):
    name = "tencent_sms"
    label = pgettext_lazy("provider", "Tencent Cloud SMS")
    channel = "sms"
    REQUIRED_SETTINGS = ("sdk_app_id", "sign_name")
    REQUIRED_SECRETS = ("secret_id", "secret_key")
    needs_template = True
    ENDPOINT = "https://sms.tencentcloudapi.com"

    def build(self, message: Outgoing, timestamp: int | None = None) -> HttpRequest:
        endpoint = self.settings.get("endpoint") or self.ENDPOINT
        host = urlsplit(endpoint).netloc
        # TemplateParamSet is ordered: the template's {1}, {2}… in the order of its params.
        body = json.dumps(
            {
                "PhoneNumberSet": [e164(message.to)],
                "SmsSdkAppId": self.settings["sdk_app_id"],
                "SignName": self.settings["sign_name"],
                "TemplateId": message.template_code,
                "TemplateParamSet": [str(v) for v in message.params.values()],
                "SessionContext": message.key,
            },
            ensure_ascii=False,
        ).encode()
        now = timestamp or int(time.time())
        return HttpRequest(
            "POST",
            endpoint.rstrip("/") + "/",
            headers={
                "Authorization": authorization(
                    self.secrets["secret_id"], self.secrets["secret_key"], host, body, now
                ),
                "Content-Type": CONTENT_TYPE,
                "Host": host,
                "X-TC-Action": "SendSms",
                "X-TC-Timestamp": str(now),
                "X-TC-Version": VERSION,
                "X-TC-Region": self.settings.get("region") or "ap-guangzhou",
            },
            body=body,
        )

    def parse(self, response: HttpResponse) -> Receipt:
        data = response.json().get("Response")
        if not isinstance(data, dict):
            raise response.unexpected("a Response")
        if "Error" in data:
            raise _error(str(data["Error"].get("Code", "")), str(data["Error"].get("Message", "")))
        statuses = data.get("SendStatusSet") or []
        if not statuses:
            raise response.unexpected("a SendStatusSet")
        status = statuses[0]
        if status.get("Code") != "Ok":
            raise _error(str(status.get("Code", "")), str(status.get("Message", "")))
        return Receipt(provider_id=str(status.get("SerialNo", "")))

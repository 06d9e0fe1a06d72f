"""A generic signed webhook, for an app's push service: POST JSON, signed with the shared
secret so the receiver can check it came from us:

    X-CareLoop-Timestamp: <unix seconds>
    X-CareLoop-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
    Idempotency-Key: <the message's key>

2xx = accepted; 408, 429 and 5xx = try again later; any other status = refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import (
    HttpRequest,
    HttpResponse,
    HttpTransport,
    Outgoing,
    Receipt,
    TransportError,
    http_status_error,
)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Webhook(HttpTransport):
    name = "webhook"
    label = pgettext_lazy("provider", "Webhook (app push)")
    channel = "app"
    REQUIRED_SETTINGS = ("url",)
    REQUIRED_SECRETS = ("secret",)

    def build(self, message: Outgoing, timestamp: int | None = None) -> HttpRequest:
        body = json.dumps(
            {
                "id": message.key,
                "to": message.to,
                "title": message.subject,
                "text": message.text,
                "link": message.link,
            },
            ensure_ascii=False,
        ).encode()
        stamp = str(timestamp or int(time.time()))
        return HttpRequest(
            "POST",
            self.settings["url"],
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-CareLoop-Timestamp": stamp,
                "X-CareLoop-Signature": signature(self.secrets["secret"], stamp, body),
                "Idempotency-Key": message.key,
            },
            body=body,
        )

    def parse(self, response: HttpResponse) -> Receipt:
        error = http_status_error(response)
        if error:
            raise error
        try:
            provider_id = response.json().get("id", "")
        except TransportError:  # accepted, with a body that is no JSON object
            provider_id = ""
        return Receipt(provider_id=str(provider_id))

"""Tencent Cloud SMS callbacks: delivery status (短信回执, a JSON array; ``ext`` is the
SessionContext we sent, ``sid`` the SerialNo) and replies (上行短信, one object). Tencent
expects ``{"result": 0, "errmsg": "OK"}`` back."""

from __future__ import annotations

from careloop.outreach.callbacks.base import (
    CallbackRequest,
    Inbound,
    Reader,
    Reading,
    Report,
    json_items,
    text,
)


class TencentSmsReader(Reader):
    provider = "tencent_sms"
    channel = "sms"
    kinds = ("report", "reply")
    ANSWER = {"result": 0, "errmsg": "OK"}

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        reading = Reading(answer=self.answer())
        for n, item in enumerate(json_items(request.body)):
            if kind == "report":
                status = text(item, "report_status", n)
                reading.reports.append(
                    Report(
                        delivered=status == "SUCCESS",
                        provider_id=text(item, "sid", n),
                        key=text(item, "ext", n, required=False),
                        code=text(item, "errmsg", n, required=False),
                        error=text(item, "description", n, required=False),
                    )
                )
            else:
                mobile = text(item, "mobile", n)
                reading.inbound.append(
                    Inbound(
                        sender=mobile,
                        text=text(item, "text", n),
                        external_id=f"{mobile}:{text(item, 'time', n, required=False)}",
                    )
                )
        return reading

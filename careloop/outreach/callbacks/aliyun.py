"""Aliyun HTTP batch push (HTTP批量推送): SMS delivery reports (SmsReport), SMS replies
(SmsUp) and voice call reports (VoiceReport, with the DTMF keys pressed). Each is a JSON
array; Aliyun expects ``{"code": 0, "msg": …}`` back and re-sends otherwise."""

from __future__ import annotations

from careloop.outreach.callbacks.base import (
    CallbackError,
    CallbackRequest,
    Inbound,
    Reader,
    Reading,
    Report,
    json_items,
    text,
)


class AliyunSmsReader(Reader):
    provider = "aliyun_sms"
    channel = "sms"
    kinds = ("report", "reply")
    ANSWER = {"code": 0, "msg": "接收成功"}

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        reading = Reading(answer=self.answer())
        for n, item in enumerate(json_items(request.body)):
            if kind == "report":
                if not isinstance(item.get("success"), bool):
                    raise CallbackError(f"item {n}: success must be true or false")
                reading.reports.append(
                    Report(
                        delivered=item["success"],
                        provider_id=text(item, "biz_id", n),
                        key=text(item, "out_id", n, required=False),
                        code=text(item, "err_code", n, required=False),
                        error=text(item, "err_msg", n, required=False),
                    )
                )
            else:
                reading.inbound.append(
                    Inbound(
                        sender=text(item, "phone_number", n),
                        text=text(item, "content", n),
                        external_id=text(item, "sequence_id", n, required=False),
                    )
                )
        return reading


class AliyunVoiceReader(Reader):
    """VoiceReport after the call (answered when ``start_time`` is set) and VoiceCallReport
    during it; either may carry ``dtmf``, the keys the patient pressed."""

    provider = "aliyun_voice"
    channel = "voice"
    kinds = ("report",)
    ANSWER = {"code": 0, "msg": "成功"}

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        reading = Reading(answer=self.answer())
        for n, item in enumerate(json_items(request.body)):
            call_id = text(item, "call_id", n)
            key = text(item, "out_id", n, required=False)
            if "end_time" in item or "duration" in item:
                answered = bool(text(item, "start_time", n, required=False))
                reading.reports.append(
                    Report(
                        delivered=answered,
                        provider_id=call_id,
                        key=key,
                        code=text(item, "status_code", n, required=False),
                        error="" if answered else text(item, "status_msg", n, required=False),
                    )
                )
            if keys := text(item, "dtmf", n, required=False):
                reading.inbound.append(
                    Inbound(
                        sender=text(item, "callee", n, required=False),
                        key=key,
                        keypad=keys,
                        external_id=f"{call_id}:{keys}",
                        provider_id=call_id,  # also when the key was too long for OutId
                    )
                )
        return reading

"""What providers push back: delivery reports, patients' replies, keypad answers and
unsubscribe events. Each provider's reader turns its documented request into ``Report`` and
``Inbound`` items and the answer the provider expects; ``apply`` acts on them."""

from careloop.outreach.callbacks.aliyun import AliyunSmsReader, AliyunVoiceReader
from careloop.outreach.callbacks.base import (
    CallbackError,
    CallbackRequest,
    Inbound,
    Reader,
    Reading,
    Report,
)
from careloop.outreach.callbacks.tencent import TencentSmsReader
from careloop.outreach.callbacks.wechat import WechatReader, WecomReader

READERS: dict[str, type[Reader]] = {
    reader.provider: reader
    for reader in (
        AliyunSmsReader,
        AliyunVoiceReader,
        TencentSmsReader,
        WechatReader,
        WecomReader,
    )
}

__all__ = [
    "READERS",
    "CallbackError",
    "CallbackRequest",
    "Inbound",
    "Reader",
    "Reading",
    "Report",
]

from careloop.outreach.models.callbacks import ProviderCallback
from careloop.outreach.models.channels import (
    AccessToken,
    ChannelAddress,
    ChannelConfig,
    MessageTemplate,
)
from careloop.outreach.models.faq import FaqEntry
from careloop.outreach.models.messages import Message, Reply
from careloop.outreach.models.notifications import StaffNotification
from careloop.outreach.models.voice import VoiceCall

__all__ = [
    "AccessToken",
    "ChannelAddress",
    "ChannelConfig",
    "FaqEntry",
    "Message",
    "MessageTemplate",
    "ProviderCallback",
    "Reply",
    "StaffNotification",
    "VoiceCall",
]

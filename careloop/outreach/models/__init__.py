from careloop.outreach.models.callbacks import ProviderCallback
from careloop.outreach.models.channels import (
    AccessToken,
    ChannelAddress,
    ChannelConfig,
    MessageTemplate,
)
from careloop.outreach.models.messages import Message, Reply

__all__ = [
    "AccessToken",
    "ChannelAddress",
    "ChannelConfig",
    "Message",
    "MessageTemplate",
    "ProviderCallback",
    "Reply",
]

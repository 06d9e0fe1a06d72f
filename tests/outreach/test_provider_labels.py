"""The providers an administrator chooses from are named in the page's language."""

from django.utils import translation

from careloop.outreach.admin import ChannelConfigForm
from careloop.outreach.transports import TRANSPORTS


def _offered() -> dict[str, str]:
    return {name: str(label) for name, label in ChannelConfigForm().fields["provider"].choices}


def test_providers_are_named_in_english_and_in_chinese() -> None:
    with translation.override("en"):
        english = _offered()
    with translation.override("zh-hans"):
        chinese = _offered()
    assert set(english) == set(TRANSPORTS)
    assert english["outbox"] == "Built-in outbox" and chinese["outbox"] == "站内发件箱"
    assert chinese["aliyun_sms"] == "阿里云短信" and english["aliyun_sms"] == "Aliyun SMS"
    assert not any("\u4e00" <= c <= "\u9fff" for label in english.values() for c in label)

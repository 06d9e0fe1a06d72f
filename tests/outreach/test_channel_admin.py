"""From a browser walk-through of channel settings in the administration: the settings and
secrets boxes take a JSON object; anything else is refused with a message (no error page),
and typed secrets are never shown back."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from careloop.outreach.models import ChannelConfig
from tests.factories import UserFactory, two_factor_client

pytestmark = pytest.mark.django_db


def _admin_client(hospital: Any) -> Client:
    admin = UserFactory(organisation=hospital, role="admin", is_staff=True, is_superuser=True)
    return two_factor_client(admin)


def _form(**changed: str) -> dict[str, str]:
    form = {
        "organisation": "",
        "channel": "sms",
        "provider": "aliyun_sms",
        "settings": '{"sign_name": "某某医院"}',
        "new_secrets": '{"access_key_id": "LTAIkey", "access_key_secret": "s3cr3t-VALUE-42"}',
        "weekly_cap": "3",
        "enabled": "on",
    }
    form.update(changed)
    return form


@pytest.mark.parametrize(
    "changed",
    [
        {"new_secrets": '["LTAIkey", "s3cr3t-VALUE-42"]'},
        {"new_secrets": '"s3cr3t-VALUE-42"'},
        {"settings": '["某某医院"]'},
        {"settings": '"某某医院"'},
    ],
)
def test_settings_or_secrets_that_are_not_a_json_object_are_refused_in_chinese(
    hospital: Any, changed: dict[str, str]
) -> None:
    page = _admin_client(hospital).post("/admin/outreach/channelconfig/add/", _form(**changed))
    assert page.status_code == 200
    text = page.content.decode()
    assert "JSON 对象" in text
    assert "s3cr3t-VALUE-42" not in text
    assert not ChannelConfig.objects.exists()


def test_secrets_typed_into_a_form_refused_for_another_reason_are_not_shown_back(
    hospital: Any,
) -> None:
    page = _admin_client(hospital).post(
        "/admin/outreach/channelconfig/add/", _form(channel="wechat")
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "errornote" in text
    assert "s3cr3t-VALUE-42" not in text
    assert not ChannelConfig.objects.exists()


def test_a_channel_setting_shows_which_secrets_are_set_never_their_values(
    hospital: Any,
) -> None:
    row = ChannelConfig(channel="sms", provider="aliyun_sms", settings={"sign_name": "某某医院"})
    row.set_secrets({"access_key_id": "LTAIkey", "access_key_secret": "s3cr3t-VALUE-42"})
    row.save()
    text = (
        _admin_client(hospital).get(f"/admin/outreach/channelconfig/{row.pk}/change/").content
    ).decode()
    assert "access_key_id, access_key_secret" in text
    assert "s3cr3t-VALUE-42" not in text
    assert ">null</textarea>" not in text  # the secrets box is empty, not "null"


def test_the_callback_addresses_are_whole_addresses_named_in_chinese(
    hospital: Any, settings: Any
) -> None:
    settings.CARELOOP_PUBLIC_URL = "https://followup.example.cn"
    row = ChannelConfig.objects.create(channel="sms", provider="outbox")
    row.provider = "aliyun_sms"
    row.save()
    text = (
        _admin_client(hospital).get(f"/admin/outreach/channelconfig/{row.pk}/change/").content
    ).decode()
    assert f"发送回执: <code>https://followup.example.cn/outreach/callbacks/{row.pk}/" in text
    assert "report:" not in text


def test_a_secret_typed_into_the_plain_settings_is_refused(hospital: Any) -> None:
    page = _admin_client(hospital).post(
        "/admin/outreach/channelconfig/add/",
        _form(settings='{"sign_name": "某某医院", "access_key_secret": "s3cr3t-VALUE-42"}'),
    )
    assert page.status_code == 200
    assert "access_key_secret 是密钥：请填在“密钥”中" in page.content.decode()
    assert not ChannelConfig.objects.exists()


def test_a_freeswitch_setting_shows_its_ivr_and_hang_up_addresses(
    hospital: Any, settings: Any
) -> None:
    settings.CARELOOP_PUBLIC_URL = "https://followup.example.cn"
    client = _admin_client(hospital)
    form = _form(
        channel="voice",
        provider="freeswitch_voice",
        settings='{"esl_host": "10.0.0.8", "gateway": "cucc"}',
        new_secrets='{"esl_password": "ClueCon-42"}',
    )
    page = client.post("/admin/outreach/channelconfig/add/", form)
    assert "freeswitch_voice: missing tts_engine" in page.content.decode()
    form["settings"] = '{"esl_host": "10.0.0.8", "gateway": "cucc", "tts_engine": "unimrcp"}'
    assert client.post("/admin/outreach/channelconfig/add/", form).status_code == 302
    row = ChannelConfig.objects.get()
    assert row.secret_values() == {"esl_password": "ClueCon-42"}
    text = client.get(f"/admin/outreach/channelconfig/{row.pk}/change/").content.decode()
    base = f"https://followup.example.cn/outreach/callbacks/{row.pk}/"
    assert f"IVR 逐步应答（httapi）: <code>{base}" in text
    assert f"通话结束: <code>{base}" in text
    assert "/ivr/</code>" in text and "/hangup/</code>" in text
    assert "ClueCon-42" not in text

"""WeChat's message encryption against the vectors of WeChat's own WXBizMsgCrypt samples;
Official Account pushes in safe mode and compatible mode; WeCom callbacks (URL check with an
encrypted echostr, a member's reply, leaving the app), each over HTTP as the platforms send
them, with wrong signatures, wrong keys and another CorpID refused."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from careloop.outreach.callbacks import CallbackError, wechat, wxcrypt
from careloop.outreach.models import ChannelAddress, ChannelConfig, ProviderCallback, Reply
from careloop.outreach.receiving import callback_urls
from careloop.patients.models import ConsentRecord

# The samples shipped with WXBizMsgCrypt (Official Account and WeCom share them).
TOKEN, KEY, RECEIVER = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO"
    "+FZXvnaqQ==",
}
PUSH = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
}
PUSH_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)


def test_the_samples_of_wxbizmsgcrypt() -> None:
    key = wxcrypt.aes_key(KEY)
    stamp, nonce, echo = VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"]
    assert wxcrypt.msg_signature(TOKEN, stamp, nonce, echo) == VERIFY["msg_signature"]
    assert wxcrypt.decrypt(key, echo, RECEIVER) == b"1616140317555161061"
    stamp, nonce = PUSH["timestamp"], PUSH["nonce"]
    assert wxcrypt.msg_signature(TOKEN, stamp, nonce, PUSH_ENCRYPT) == PUSH["msg_signature"]
    message = wxcrypt.decrypt(key, PUSH_ENCRYPT, RECEIVER)
    assert b"<Content><![CDATA[hello]]></Content>" in message
    assert b"<FromUserName><![CDATA[mycreate]]></FromUserName>" in message
    # Encrypting it again with the sample's random bytes gives the sample's ciphertext.
    decryptor = wxcrypt._cipher(key).decryptor()
    head = (decryptor.update(base64.b64decode(PUSH_ENCRYPT)) + decryptor.finalize())[:16]
    assert wxcrypt.encrypt(key, message, RECEIVER, head) == PUSH_ENCRYPT
    with pytest.raises(CallbackError, match="another AppID"):
        wxcrypt.decrypt(key, PUSH_ENCRYPT, "wx0000000000000000")
    with pytest.raises(CallbackError, match="does not decrypt"):
        wxcrypt.decrypt(wxcrypt.aes_key("A" * 43), PUSH_ENCRYPT, RECEIVER)
    with pytest.raises(CallbackError, match="msg_signature"):
        wxcrypt.check_signature(TOKEN, stamp, nonce, PUSH_ENCRYPT, "0" * 40)


pytestmark = pytest.mark.django_db


def _config(provider: str, channel: str, settings: dict[str, str]) -> ChannelConfig:
    row = ChannelConfig(channel=channel, provider=provider, settings=settings)
    row.set_secrets({"callback_token": TOKEN, "encoding_aes_key": KEY, "app_secret": "s"})
    row.save()
    return row


def _sealed(inner: str, receiver: str = RECEIVER, **query: str) -> tuple[str, bytes]:
    """A push as WeChat sends it in safe mode: the query string and the XML body."""
    stamp, nonce = str(int(time.time())), "8765"
    encrypted = wxcrypt.encrypt(wxcrypt.aes_key(KEY), inner.encode(), receiver)
    sig = query.pop("msg_signature", wxcrypt.msg_signature(TOKEN, stamp, nonce, encrypted))
    plain_sig = wechat.signature(TOKEN, stamp, nonce)
    parts = {"signature": plain_sig, "timestamp": stamp, "nonce": nonce, "msg_signature": sig}
    parts.update(encrypt_type="aes", **query)
    body = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return "&".join(f"{k}={quote(v)}" for k, v in parts.items()), body.encode()


def _inner(sender: str, kind: str, **fields: str) -> str:
    extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{RECEIVER}]]></ToUserName><FromUserName><![CDATA[{sender}]]>"
        f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]>"
        f"</MsgType>{extra}</xml>"
    )


def test_an_official_account_in_safe_mode(patient_factory: Any, hospital: Any) -> None:
    row = _config("wechat_mp", "wechat", {"app_id": RECEIVER})
    url = callback_urls(row)["events"]
    patient = patient_factory(organisation=hospital)
    ChannelAddress.objects.create(patient=patient, channel="wechat", address="oSAFE1")
    query, body = _sealed(_inner("oSAFE1", "text", Content="最近胸口疼，喘不上气", MsgId="71"))
    answer = Client().post(f"{url}?{query}", data=body, content_type="text/xml")
    assert (answer.status_code, answer.content) == (200, b"success")
    reply = Reply.objects.get()
    assert reply.patient == patient and set(reply.symptoms) == {"胸痛胸闷", "呼吸困难"}
    stored = ProviderCallback.objects.get()
    assert stored.raw == body  # kept as it came, still sealed

    # Compatible mode carries both; the encrypted part is the one read.
    query, sealed = _sealed(_inner("oSAFE1", "event", Event="unsubscribe"))
    both = sealed.replace(b"</xml>", b"<MsgType><![CDATA[text]]></MsgType></xml>")
    assert Client().post(f"{url}?{query}", data=both, content_type="text/xml").status_code == 200
    assert ConsentRecord.objects.filter(patient=patient, channel="wechat", granted=False).exists()

    # A body altered on the way, or sealed for another account: refused and kept.
    query, body = _sealed(_inner("oSAFE1", "text", Content="x", MsgId="72"), msg_signature="0" * 40)
    assert Client().post(f"{url}?{query}", data=body, content_type="text/xml").status_code == 403
    query, body = _sealed(_inner("oSAFE1", "text", Content="x", MsgId="73"), "wx0000000000000000")
    refused = Client().post(f"{url}?{query}", data=body, content_type="text/xml")
    assert refused.status_code == 403 and "another AppID" in refused.json()["msg"]
    # With the key set, a plain body (signed only through its URL) is refused.
    plain = b"<xml><FromUserName>oSAFE1</FromUserName><MsgType>text</MsgType></xml>"
    query, _body = _sealed(_inner("oSAFE1", "text", Content="x", MsgId="74"))
    refused = Client().post(f"{url}?{query}", data=plain, content_type="text/xml")
    assert refused.status_code == 400 and "Encrypt is missing" in refused.json()["msg"]
    rejected = ProviderCallback.objects.filter(status=ProviderCallback.Status.REJECTED)
    assert rejected.count() == 3


def test_safe_mode_without_the_key_says_what_to_set(hospital: Any) -> None:
    row = ChannelConfig(channel="wechat", provider="wechat_mp", settings={"app_id": RECEIVER})
    row.set_secrets({"callback_token": TOKEN, "app_secret": "s"})
    row.save()
    query, body = _sealed(_inner("o1", "text", Content="好", MsgId="1"))
    answer = Client().post(
        f"{callback_urls(row)['events']}?{query}", data=body, content_type="text/xml"
    )
    assert answer.status_code == 403 and "encoding_aes_key" in answer.json()["msg"]


def test_wecom_url_check_reply_and_leaving_the_app(
    patient_factory: Any, hospital: Any, monkeypatch: Any
) -> None:
    row = _config("wecom", "wecom", {"corp_id": RECEIVER, "agent_id": "218"})
    url = callback_urls(row)["events"]
    monkeypatch.setattr(wechat, "now", lambda: 1409659589)  # the sample's moment
    check = Client().get(f"{url}?" + "&".join(f"{k}={quote(v)}" for k, v in VERIFY.items()))
    assert (check.status_code, check.content) == (200, b"1616140317555161061")
    sample = (
        f"<xml><ToUserName><![CDATA[{RECEIVER}]]></ToUserName><Encrypt><![CDATA[{PUSH_ENCRYPT}]]>"
        "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    )
    monkeypatch.setattr(wechat, "now", lambda: 1409659813)
    pushed = Client().post(
        f"{url}?" + "&".join(f"{k}={v}" for k, v in PUSH.items()),
        data=sample.encode(),
        content_type="text/xml",
    )
    assert (pushed.status_code, pushed.content) == (200, b"")
    sample_reply = Reply.objects.get()
    assert (sample_reply.sender, sample_reply.text) == ("mycreate", "hello")  # the sample's
    monkeypatch.undo()

    patient = patient_factory(organisation=hospital)
    ChannelAddress.objects.create(patient=patient, channel="wecom", address="ZhangSan")
    query, body = _sealed(_inner("ZhangSan", "text", Content="头不晕了", MsgId="9001"))
    assert Client().post(f"{url}?{query}", data=body, content_type="text/xml").status_code == 200
    reply = Reply.objects.exclude(pk=sample_reply.pk).get()
    assert (reply.patient, reply.channel, reply.negated) == (patient, "wecom", ["头晕"])
    query, body = _sealed(_inner("ZhangSan", "event", Event="unsubscribe"))
    assert Client().post(f"{url}?{query}", data=body, content_type="text/xml").status_code == 200
    assert ConsentRecord.objects.filter(patient=patient, channel="wecom", granted=False).exists()

    plain = b"<xml><MsgType>text</MsgType><Content>hi</Content></xml>"
    query, _body = _sealed(_inner("ZhangSan", "text", Content="x", MsgId="9002"))
    refused = Client().post(f"{url}?{query}", data=plain, content_type="text/xml")
    assert refused.status_code == 400 and "always encrypted" in refused.json()["msg"]
    stale = query.replace(f"timestamp={int(time.time())}", "timestamp=1409659813")
    assert Client().post(f"{url}?{stale}", data=body, content_type="text/xml").status_code == 403

"""Each provider adapter against a local server that checks the request as the provider
documents it (signature recomputed here independently, fields) and answers with the
provider's success and error bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import pytest

from careloop.outreach.transports import ConfigError, Outgoing, TransportError, transport
from careloop.outreach.transports.base import HttpResponse
from careloop.outreach.transports.tencent import e164
from careloop.outreach.transports.wechat import MemoryTokens
from tests.outreach.conftest import ProviderServer, Seen

MESSAGE = Outgoing(
    key="task:42:sms",
    to="13800138000",
    text="张阿姨您好，请按时复诊。",
    template_code="SMS_123",
    params={"name": "张阿姨", "date": "12月8日"},
)


def aliyun_signature(params: dict[str, str], secret: str) -> str:
    def enc(s: str) -> str:
        return quote(s, safe="~").replace("+", "%20")

    pairs = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    to_sign = "POST&%2F&" + enc(pairs)
    mac = hmac.new(b"the-secret&", to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def aliyun_sms(provider: ProviderServer):
    return transport(
        "aliyun_sms",
        {"sign_name": "某某医院", "endpoint": provider.url},
        {"access_key_id": "LTAIkey", "access_key_secret": "the-secret"},
    )


def test_aliyun_sms_request_is_signed_as_documented(provider: ProviderServer) -> None:
    provider.answer = lambda _s: (200, {"Code": "OK", "Message": "OK", "BizId": "900619746936"})
    receipt = aliyun_sms(provider).send(MESSAGE)
    assert receipt.provider_id == "900619746936"
    seen = provider.seen[0]
    assert (seen.method, seen.path, seen.body) == ("POST", "/", b"")
    # The parameters in the query string (SendSms's OpenAPI metadata: "in": "query"),
    # percent-encoded by RFC 3986: a space as %20, never +.
    assert "+" not in seen.raw_query
    form = seen.query
    assert form["RegionId"] == "cn-hangzhou"
    signature = form.pop("Signature")
    assert signature == aliyun_signature(form, "the-secret")
    assert form["Action"] == "SendSms"
    assert form["Version"] == "2017-05-25"
    assert form["SignatureMethod"] == "HMAC-SHA1"
    assert form["SignatureVersion"] == "1.0"
    assert form["Format"] == "JSON"
    assert form["AccessKeyId"] == "LTAIkey"
    assert form["PhoneNumbers"] == "13800138000"
    assert form["SignName"] == "某某医院"
    assert form["TemplateCode"] == "SMS_123"
    assert json.loads(form["TemplateParam"]) == {"name": "张阿姨", "date": "12月8日"}
    assert form["OutId"] == "task:42:sms"
    datetime.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")  # ISO 8601 UTC


def test_aliyun_a_number_s_daily_flow_control_is_not_retried(provider: ProviderServer) -> None:
    """The same code says minute, hour or day in its message; only the day's is final."""
    for text, permanent in (("触发分钟级流控Permits:1", False), ("触发天级流控Permits:10", True)):
        provider.answer = lambda _s, t=text: (
            200,
            {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": t, "RequestId": "r"},
        )
        with pytest.raises(TransportError) as error:
            aliyun_sms(provider).send(MESSAGE)
        assert error.value.permanent is permanent, text


@pytest.mark.parametrize(
    ("code", "permanent", "opted_out"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", False, False),
        ("isp.SYSTEM_ERROR", False, False),
        # A day's limit: no retry within the hour can work, the next channel at once.
        ("isv.DAY_LIMIT_CONTROL", True, False),
        ("isv.MOBILE_NUMBER_ILLEGAL", True, False),
        ("isv.SMS_TEMPLATE_ILLEGAL", True, False),
        # A blacklisted keyword in a template variable: the message's fault, the patient
        # has not opted out (Aliyun's SendSms error codes).
        ("isv.BLACK_KEY_CONTROL_LIMIT", True, False),
        ("isp.RAM_PERMISSION_DENY", True, False),  # the AccessKey's permission: a setting
    ],
)
def test_aliyun_error_codes(
    provider: ProviderServer, code: str, permanent: bool, opted_out: bool
) -> None:
    provider.answer = lambda _s: (200, {"Code": code, "Message": "x", "RequestId": "r"})
    with pytest.raises(TransportError) as error:
        aliyun_sms(provider).send(MESSAGE)
    assert (error.value.permanent, error.value.opted_out, error.value.code) == (
        permanent,
        opted_out,
        code,
    )


def test_a_5xx_without_a_body_is_temporary(provider: ProviderServer) -> None:
    provider.answer = lambda _s: (503, b"<html>busy</html>")
    with pytest.raises(TransportError) as error:
        aliyun_sms(provider).send(MESSAGE)
    assert error.value.permanent is False


def test_an_unreachable_provider_is_temporary() -> None:
    sms = transport(
        "aliyun_sms",
        {"sign_name": "某某医院", "endpoint": "http://127.0.0.1:9"},
        {"access_key_id": "k", "access_key_secret": "s"},
    )
    with pytest.raises(TransportError) as error:
        sms.send(MESSAGE)
    assert error.value.permanent is False
    assert error.value.code == "network"


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="sign_name"):
        transport("aliyun_sms", {}, {"access_key_id": "k", "access_key_secret": "s"})


def tencent_check(seen: Seen, secret_key: str) -> None:
    """Recompute TC3-HMAC-SHA256 from what arrived."""
    stamp = int(seen.headers["x-tc-timestamp"])
    day = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
    host = seen.headers["host"]
    canonical = (
        f"POST\n/\n\ncontent-type:{seen.headers['content-type']}\nhost:{host}\n\n"
        f"content-type;host\n{hashlib.sha256(seen.body).hexdigest()}"
    )
    to_sign = (
        f"TC3-HMAC-SHA256\n{stamp}\n{day}/sms/tc3_request\n"
        f"{hashlib.sha256(canonical.encode()).hexdigest()}"
    )

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(("TC3" + secret_key).encode(), day), "sms"), "tc3_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert seen.headers["authorization"] == (
        f"TC3-HMAC-SHA256 Credential=AKIDid/{day}/sms/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={expected}"
    )


@pytest.mark.parametrize("phone", ["13800138000", "8613800138000", "+8613800138000"])
def test_tencent_numbers_carry_the_country_code_once(phone: str) -> None:
    assert e164(phone) == "+8613800138000"


def test_tencent_sms_request_is_signed_as_documented(provider: ProviderServer) -> None:
    provider.answer = lambda _s: (
        200,
        {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": "5000:1045710669157053657849499619",
                        "PhoneNumber": "+8613800138000",
                        "Fee": 1,
                        "Code": "Ok",
                        "Message": "send success",
                    }
                ],
                "RequestId": "a0aabda6",
            }
        },
    )
    sms = transport(
        "tencent_sms",
        {"sdk_app_id": "1400006666", "sign_name": "某某医院", "endpoint": provider.url},
        {"secret_id": "AKIDid", "secret_key": "tc-secret"},
    )
    receipt = sms.send(MESSAGE)
    assert receipt.provider_id == "5000:1045710669157053657849499619"
    seen = provider.seen[0]
    tencent_check(seen, "tc-secret")
    assert seen.headers["x-tc-action"] == "SendSms"
    assert seen.headers["x-tc-version"] == "2021-01-11"
    assert seen.headers["x-tc-region"] == "ap-guangzhou"
    body = seen.json()
    assert body == {
        "PhoneNumberSet": ["+8613800138000"],
        "SmsSdkAppId": "1400006666",
        "SignName": "某某医院",
        "TemplateId": "SMS_123",
        "TemplateParamSet": ["张阿姨", "12月8日"],
        "SessionContext": "task:42:sms",
    }


@pytest.mark.parametrize(
    ("body", "permanent"),
    [
        ({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}}, True),
        ({"Response": {"Error": {"Code": "InternalError.Timeout", "Message": "x"}}}, False),
        (
            {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit"}]}},
            True,  # the number's limit for the day: the next channel, not a retry within the hour
        ),
        (
            {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberOneHourLimit"}]}},
            False,
        ),
        (
            {"Response": {"SendStatusSet": [{"Code": "FailedOperation.PhoneNumberInBlacklist"}]}},
            True,
        ),
        ({"Response": {"Error": {"Code": "UnknownParameter", "Message": "x"}}}, True),
    ],
)
def test_tencent_errors(body: dict, permanent: bool) -> None:
    sms = transport(
        "tencent_sms", {"sdk_app_id": "1", "sign_name": "s"}, {"secret_id": "i", "secret_key": "k"}
    )
    with pytest.raises(TransportError) as error:
        sms.parse(HttpResponse(200, json.dumps(body).encode()))  # type: ignore[attr-defined]
    assert error.value.permanent is permanent


def wechat(provider: ProviderServer, **settings: str):
    instance = transport(
        "wechat_mp", {"app_id": "wx123", "api": provider.url, **settings}, {"app_secret": "s3"}
    )
    instance.tokens = MemoryTokens()  # type: ignore[attr-defined]
    return instance


def test_wechat_template_message_fetches_the_token_once(provider: ProviderServer) -> None:
    def answer(seen: Seen) -> tuple[int, object]:
        if seen.path == "/cgi-bin/stable_token":
            return 200, {"access_token": "TOKEN1", "expires_in": 7200}
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}

    provider.answer = answer
    channel = wechat(provider)
    message = Outgoing(
        key="task:7:wechat",
        to="oOPENID",
        text="t",
        template_code="TPL",
        params={"thing1": "复诊提醒"},
        link="https://example.org/p/abc",
    )
    assert channel.send(message).provider_id == "200228332"
    assert channel.send(message).provider_id == "200228332"
    token_calls = [s for s in provider.seen if s.path == "/cgi-bin/stable_token"]
    assert len(token_calls) == 1
    assert token_calls[0].json() == {
        "grant_type": "client_credential",
        "appid": "wx123",
        "secret": "s3",
        "force_refresh": False,
    }
    sent = [s for s in provider.seen if s.path == "/cgi-bin/message/template/send"]
    assert len(sent) == 2
    assert sent[0].query == {"access_token": "TOKEN1"}
    assert sent[0].json() == {
        "touser": "oOPENID",
        "template_id": "TPL",
        "data": {"thing1": {"value": "复诊提醒"}},
        "url": "https://example.org/p/abc",
        "client_msg_id": "task:7:wechat",
    }


def test_wechat_token_from_the_older_endpoint_when_the_stable_one_is_missing(
    provider: ProviderServer,
) -> None:
    """A gateway offering only /cgi-bin/token (404 for /cgi-bin/stable_token)."""

    def answer(seen: Seen) -> tuple[int, object]:
        if seen.path == "/cgi-bin/stable_token":
            return 404, b"Not Found"
        if seen.path == "/cgi-bin/token":
            return 200, {"access_token": "CLASSIC", "expires_in": 7200}
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": 5}

    provider.answer = answer
    channel = wechat(provider)
    message = Outgoing(key="k", to="o1", text="t", template_code="T", params={"thing1": "x"})
    assert channel.send(message).provider_id == "5"
    assert channel.send(message).provider_id == "5"
    asked = [s for s in provider.seen if s.path == "/cgi-bin/token"]
    assert [(s.method, s.query) for s in asked] == [
        ("GET", {"grant_type": "client_credential", "appid": "wx123", "secret": "s3"})
    ]
    sent = [s for s in provider.seen if s.path == "/cgi-bin/message/template/send"]
    assert [s.query["access_token"] for s in sent] == ["CLASSIC", "CLASSIC"]


@pytest.mark.parametrize("expired", [40001, 40014, 42001])
def test_wechat_expired_token_is_renewed_and_the_message_sent_once_more(
    provider: ProviderServer, expired: int
) -> None:
    tokens = iter(["OLD", "NEW"])
    answers = iter(
        [
            {"errcode": expired, "errmsg": "access_token expired"},
            {"errcode": 0, "errmsg": "ok", "msgid": 7},
        ]
    )

    def answer(seen: Seen) -> tuple[int, object]:
        if seen.path == "/cgi-bin/stable_token":
            return 200, {"access_token": next(tokens), "expires_in": 7200}
        return 200, next(answers)

    provider.answer = answer
    channel = wechat(provider, kind="subscribe")
    message = Outgoing(key="k", to="o1", text="t", template_code="T", params={"thing1": "x"})
    assert channel.send(message).provider_id == "7"
    sends = [s for s in provider.seen if s.path.startswith("/cgi-bin/message")]
    assert [s.path for s in sends] == ["/cgi-bin/message/subscribe/bizsend"] * 2
    assert [s.query["access_token"] for s in sends] == ["OLD", "NEW"]
    assert channel.tokens.get("wechat:wx123") == "NEW"  # type: ignore[attr-defined]


def test_wechat_a_token_refused_twice_is_tried_once_more_only(provider: ProviderServer) -> None:
    def answer(seen: Seen) -> tuple[int, object]:
        if seen.path == "/cgi-bin/stable_token":
            return 200, {"access_token": f"T{len(provider.seen)}", "expires_in": 7200}
        return 200, {"errcode": 42001, "errmsg": "access_token expired"}

    provider.answer = answer
    with pytest.raises(TransportError) as error:
        wechat(provider).send(Outgoing(key="k", to="o1", text="t", template_code="T"))
    assert (error.value.permanent, error.value.code) == (False, "42001")  # later, again
    assert len([s for s in provider.seen if s.path.startswith("/cgi-bin/message")]) == 2


@pytest.mark.parametrize(
    ("errcode", "permanent", "opted_out"),
    [
        (43004, True, True),  # require subscribe: the patient unfollowed the account
        (43101, True, True),  # the user refused the subscribe message
        (40003, True, False),  # invalid openid: a wrong address, not an opt-out
        (44002, True, False),  # empty post data: the request's fault
        (40037, True, False),  # invalid template_id
        (-1, False, False),  # system busy
        (45009, False, False),  # daily API quota
    ],
)
def test_wechat_error_codes(errcode: int, permanent: bool, opted_out: bool) -> None:
    channel = transport("wechat_mp", {"app_id": "wx1"}, {"app_secret": "s"})
    body = json.dumps({"errcode": errcode, "errmsg": "x"}).encode()
    with pytest.raises(TransportError) as error:
        channel.parse(HttpResponse(200, body))  # type: ignore[attr-defined]
    assert (error.value.permanent, error.value.opted_out) == (permanent, opted_out)


def test_wecom_application_message(provider: ProviderServer) -> None:
    def answer(seen: Seen) -> tuple[int, object]:
        if seen.path == "/cgi-bin/gettoken":
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": "WT", "expires_in": 7200}
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m1"}

    provider.answer = answer
    channel = transport(
        "wecom",
        {"corp_id": "ww1", "agent_id": "1000002", "api": provider.url},
        {"corp_secret": "cs"},
    )
    channel.tokens = MemoryTokens()  # type: ignore[attr-defined]
    assert channel.send(Outgoing(key="k", to="zhangsan", text="您好")).provider_id == "m1"
    token, sent = provider.seen
    assert token.method == "GET"
    assert token.query == {"corpid": "ww1", "corpsecret": "cs"}
    assert sent.query == {"access_token": "WT"}
    body = sent.json()
    assert body["touser"] == "zhangsan"
    assert body["msgtype"] == "text"
    assert body["agentid"] == 1000002
    assert body["text"] == {"content": "您好"}


def test_webhook_is_signed(provider: ProviderServer) -> None:
    provider.answer = lambda _s: (202, {"id": "push-1"})
    hook = transport("webhook", {"url": provider.url + "/push"}, {"secret": "whsec"})
    assert hook.send(Outgoing(key="task:9:app", to="user-9", text="您好")).provider_id == "push-1"
    seen = provider.seen[0]
    stamp = seen.headers["x-careloop-timestamp"]
    expected = hmac.new(b"whsec", stamp.encode() + b"." + seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-careloop-signature"] == f"sha256={expected}"
    assert seen.headers["idempotency-key"] == "task:9:app"
    assert seen.json()["text"] == "您好"
    provider.answer = lambda _s: (400, {"error": "bad"})
    with pytest.raises(TransportError) as error:
        hook.send(Outgoing(key="k", to="u", text="t"))
    assert error.value.permanent is True


def test_aliyun_voice_with_keypad_uses_ivr_call(provider: ProviderServer) -> None:
    provider.answer = lambda _s: (200, {"Code": "OK", "CallId": "116012354^1", "RequestId": "r"})
    voice = transport(
        "aliyun_voice",
        {"show_number": "057188773344", "endpoint": provider.url},
        {"access_key_id": "LTAIkey", "access_key_secret": "the-secret"},
    )
    call = Outgoing(
        key="task:5:voice",
        to="13800138000",
        text="t",
        template_code="TTS_1",
        params={"name": "张阿姨"},
        keys={"1": "fine", "2": "unwell"},
    )
    assert voice.send(call).provider_id == "116012354^1"
    form = provider.seen[0].query
    assert form.pop("Signature") == aliyun_signature(form, "the-secret")
    assert form["Action"] == "IvrCall"
    assert form["CalledNumber"] == "13800138000"
    assert form["StartCode"] == "TTS_1"
    assert (form["MenuKeyMap.1.Key"], form["MenuKeyMap.2.Key"]) == ("1", "2")
    assert form["OutId"] == "task:5:voice"


def test_aliyun_voice_calls_a_landline_by_its_area_code_and_number(
    provider: ProviderServer,
) -> None:
    provider.answer = lambda _s: (200, {"Code": "OK", "CallId": "116012354^2", "RequestId": "r"})
    voice = transport(
        "aliyun_voice",
        {"show_number": "057188773344", "endpoint": provider.url},
        {"access_key_id": "LTAIkey", "access_key_secret": "the-secret"},
    )
    call = Outgoing(key="task:6:voice", to="0755-12345678", text="t", template_code="TTS_1")
    assert voice.send(call).provider_id == "116012354^2"
    form = provider.seen[0].query
    assert form["Action"] == "SingleCallByTts"
    assert form["CalledNumber"] == "075512345678"


@pytest.mark.parametrize("keypad", [{}, {"1": "fine"}])
def test_aliyun_voice_out_id_is_at_most_15_bytes(provider: ProviderServer, keypad: dict) -> None:
    """SingleCallByTts and IvrCall document OutId as 1 to 15 bytes: a longer key is not sent
    (the call report is matched by its call_id instead)."""
    provider.answer = lambda _s: (200, {"Code": "OK", "CallId": "116012354^1", "RequestId": "r"})
    voice = transport(
        "aliyun_voice",
        {"show_number": "057188773344", "endpoint": provider.url},
        {"access_key_id": "LTAIkey", "access_key_secret": "the-secret"},
    )
    call = Outgoing(
        key="task:12345:voice", to="13800138000", text="t", template_code="TTS_1", keys=keypad
    )
    assert voice.send(call).provider_id == "116012354^1"
    form = provider.seen[0].query
    assert form["Action"] == ("IvrCall" if keypad else "SingleCallByTts")
    assert len(form.get("OutId", "").encode()) <= 15
    assert form.pop("Signature") == aliyun_signature(form, "the-secret")


def test_aliyun_percent_encoding_keeps_only_unreserved_characters() -> None:
    from careloop.outreach.transports.aliyun import percent

    assert percent("SendSms_2017-05-25.~") == "SendSms_2017-05-25.~"  # as it is
    assert percent("a b*c/d+e") == "a%20b%2Ac%2Fd%2Be"  # space %20, * and / escaped
    assert percent("张") == "%E5%BC%A0"
    assert percent("") == ""


def test_aliyun_signature_matches_the_published_example() -> None:
    """Aliyun's signature document (API 签名机制, RPC): DescribeRegions with AccessKeyId
    "testid", AccessKeySecret "testsecret", GET; the documented result."""
    from careloop.outreach.transports.aliyun import sign

    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert sign(params, "testsecret", "GET") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_aliyun_request_signature_is_the_one_of_its_parameters() -> None:
    """The request as sent: the signature over the POST body's own parameters, computed by
    the documented algorithm (``sign``, proven above), and the documented common values."""
    from careloop.outreach.transports.aliyun import rpc_request, sign

    request = rpc_request(
        "https://dysmsapi.aliyuncs.com",
        "SendSms",
        "2017-05-25",
        {"PhoneNumbers": "13800138000", "TemplateParam": '{"name":"张 阿姨*"}'},
        key_id="testid",
        secret="testsecret",
        now=datetime(2026, 12, 3, 4, 5, 6),
        nonce="3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    )
    where, _, query = request.url.partition("?")
    assert (request.method, where, request.body) == ("POST", "https://dysmsapi.aliyuncs.com/", b"")
    assert "+" not in query and "%20" in query and "%2A" in query  # RFC 3986, space as %20
    form = dict(parse_qsl(query))
    signature = form.pop("Signature")
    assert signature == sign(form, "testsecret", "POST")
    assert form["Timestamp"] == "2026-12-03T04:05:06Z"
    assert form["TemplateParam"] == '{"name":"张 阿姨*"}'  # a JSON string, as documented


# Tencent Cloud's "Signature v3" document (签名方法 v3): CVM DescribeInstances at timestamp
# 1551113065 with this body; the page gives the hashed payload, the hashed canonical request
# and the signature. Its older text has the key ending in "EXAMPLE"; the current one masks it
# as "*******" and shows the signature that key gives.
TC3_BODY = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)


@pytest.mark.parametrize(
    ("secret_key", "expected"),
    [
        (
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
        ),
        (
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
        ),
    ],
)
def test_tencent_signature_matches_the_published_example(secret_key: str, expected: str) -> None:
    from careloop.outreach.transports.tencent import authorization

    assert hashlib.sha256(TC3_BODY).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    header = authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key,
        "cvm.tencentcloudapi.com",
        TC3_BODY,
        1551113065,
        service="cvm",
    )
    assert header == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        f"tc3_request, SignedHeaders=content-type;host, Signature={expected}"
    )

"""The SMTP transport against a local mail server (aiosmtpd): the message as sent, login,
and the server's refusals read as permanent or temporary."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message as Mail
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from careloop.outreach.transports import TransportError, transport
from careloop.outreach.transports.base import Outgoing


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[Envelope, Mail]] = []
        self.refuse: str = ""  # an SMTP reply to give to RCPT instead of accepting

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.mails.append((envelope, email.message_from_bytes(envelope.content)))
        return "250 Message accepted"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"fu", b"pw")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def mailserver() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def smtp(port: int, **settings: Any) -> Any:
    config = {"host": "127.0.0.1", "port": port, "sender": "followup@h1.example.cn", **settings}
    return transport("smtp", config, {"password": "pw"} if "username" in settings else {})


MESSAGE = Outgoing(
    key="task:7:email",
    to="patient@example.cn",
    text="张阿姨您好，请按时复诊。",
    subject="复诊提醒",
    link="https://h1.example.cn/p/abc",
)


def test_a_message_is_sent_with_login_subject_and_idempotent_message_id(
    mailserver: tuple[Inbox, int],
) -> None:
    inbox, port = mailserver
    receipt = smtp(port, username="fu").send(MESSAGE)
    [(envelope, mail)] = inbox.mails
    assert envelope.mail_from == "followup@h1.example.cn"
    assert envelope.rcpt_tos == ["patient@example.cn"]
    assert str(email.header.make_header(email.header.decode_header(mail["Subject"]))) == "复诊提醒"
    body = mail.get_payload(decode=True).decode()
    assert body.splitlines() == ["张阿姨您好，请按时复诊。", "https://h1.example.cn/p/abc"]
    message_id = "".join(mail["Message-ID"].split())  # a long header may arrive folded
    assert message_id == receipt.provider_id
    assert "task.7.email" in message_id and message_id.endswith("@h1.example.cn>")


def test_a_wrong_password_is_permanent(mailserver: tuple[Inbox, int]) -> None:
    _inbox, port = mailserver
    sender = transport(
        "smtp",
        {"host": "127.0.0.1", "port": port, "sender": "a@h1.example.cn", "username": "fu"},
        {"password": "wrong"},
    )
    with pytest.raises(TransportError) as raised:
        sender.send(MESSAGE)
    assert raised.value.permanent
    assert str(raised.value) == "the mail server refused the login"


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 No such user", True), ("451 4.3.0 Try again later", False)],
)
def test_a_refused_recipient(mailserver: tuple[Inbox, int], reply: str, permanent: bool) -> None:
    inbox, port = mailserver
    inbox.refuse = reply
    with pytest.raises(TransportError) as raised:
        smtp(port).send(MESSAGE)
    assert raised.value.permanent is permanent
    assert raised.value.code == reply[:3]
    assert not inbox.mails


def test_no_server_listening_is_temporary() -> None:
    with pytest.raises(TransportError) as raised:
        smtp(1).send(MESSAGE)  # nothing listens on port 1
    assert not raised.value.permanent

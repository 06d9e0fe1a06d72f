"""Automated calls through the hospital's own FreeSWITCH (a call centre's soft switch).

A call is placed over the event socket (ESL, TCP 8021: ``auth``, then ``bgapi originate``)
and, once answered, run by ``mod_httapi``: FreeSWITCH asks our IVR URL what to do next and
posts the keys pressed (``ivr.py``: a whole questionnaire by keypad, or the message read with
its keypad answers). When the call ends, its ``api_hangup_hook`` posts the message key to our
``hangup`` callback: a call that never reached the IVR was not answered, a failed try, as a
provider's delivery report would say.
"""

from __future__ import annotations

import socket
import uuid
from typing import Any

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import (
    ConfigError,
    Outgoing,
    Receipt,
    Transport,
    TransportError,
)
from careloop.patients.identity import dialled_digits

TIMEOUT = 10.0
# The characters originate's {variables} and httapi's {params} cannot hold unquoted.
UNSAFE = set(",{}'\"\r\n ")


class EslError(TransportError):
    pass


def _safe(value: str, what: str) -> str:
    if not value or UNSAFE & set(value):
        raise ConfigError(f"freeswitch_voice: {what} must not be empty or hold , {{ }} quotes")
    return value


class FreeswitchVoice(Transport):
    """``settings``: esl_host, esl_port (8021), gateway (a sofia gateway's name),
    show_number (the caller ID shown), answer_seconds (how long it rings, 45), tts_engine
    (for the IVR: ``unimrcp``, or ``unimrcp:<profile>`` for another MRCP profile than its
    default-tts-profile; ``tts_commandline``…) and tts_voice (the engine's voice); secret:
    esl_password. ``bind`` gives it the URLs of its setting's callbacks."""

    name = "freeswitch_voice"
    label = pgettext_lazy("provider", "FreeSWITCH automated call")
    channel = "voice"
    REQUIRED_SETTINGS = ("esl_host", "gateway", "tts_engine")
    REQUIRED_SECRETS = ("esl_password",)

    def __init__(self, settings: dict[str, Any], secrets: dict[str, str]) -> None:
        super().__init__(settings, secrets)
        _safe(str(settings["gateway"]), "gateway")
        self.ivr_url = ""
        self.hangup_url = ""

    def bind(self, ivr_url: str, hangup_url: str) -> None:
        self.ivr_url, self.hangup_url = ivr_url, hangup_url

    def command(self, message: Outgoing, call_id: str) -> str:
        """The ``bgapi originate`` line for ``message`` (the call's uuid is ``call_id``)."""
        if not self.ivr_url:
            raise ConfigError("freeswitch_voice: the setting has no callback address yet")
        key = _safe(message.key, "the message key")
        number = dialled_digits(message.to)
        if not number.isdigit():
            raise TransportError("the number cannot be dialled", permanent=True, code="number")
        show = str(self.settings.get("show_number") or "")
        ring = int(self.settings.get("answer_seconds") or 45)
        hook = f"curl {self.hangup_url} post careloop_key={key}&call_id={call_id}"
        variables = [
            f"origination_uuid={call_id}",
            f"originate_timeout={ring}",
            "ignore_early_media=true",
            f"careloop_key={key}",
            f"api_hangup_hook='{hook}'",
        ]
        if show:
            variables.append(f"origination_caller_id_number={_safe(show, 'show_number')}")
        gateway = self.settings["gateway"]
        app = f"&httapi({{url={self.ivr_url},method=POST,careloop_key={key}}})"
        return f"bgapi originate {{{','.join(variables)}}}sofia/gateway/{gateway}/{number} {app}"

    def send(self, message: Outgoing) -> Receipt:
        call_id = str(uuid.uuid4())
        line = self.command(message, call_id)
        port = int(self.settings.get("esl_port") or 8021)
        try:
            with socket.create_connection((self.settings["esl_host"], port), TIMEOUT) as sock:
                sock.settimeout(TIMEOUT)
                esl = _Esl(sock)
                greeting = esl.read().get("Content-Type")
                if greeting == "text/rude-rejection":  # this address is not in its ACL
                    raise EslError(
                        "FreeSWITCH's event socket does not admit this server (apply-inbound-acl)",
                        permanent=True,
                        code="acl",
                    )
                if greeting != "auth/request":
                    raise EslError("FreeSWITCH did not ask to log in", permanent=False)
                reply = esl.ask(f"auth {self.secrets['esl_password']}")
                if not reply.startswith("+OK"):
                    raise EslError(
                        "FreeSWITCH refused the event socket password", permanent=True, code="auth"
                    )
                self._gateway_up(esl)
                reply = esl.ask(line)
        except (TimeoutError, OSError) as error:
            raise TransportError(
                f"cannot reach FreeSWITCH: {type(error).__name__}", permanent=False
            ) from error
        if not reply.startswith("+OK"):
            raise TransportError(
                f"FreeSWITCH refused the call: {reply[:100]}", permanent=False, code="originate"
            )
        return Receipt(provider_id=call_id)

    def _gateway_up(self, esl: _Esl) -> None:
        """``bgapi`` answers "+OK Job-UUID" whatever becomes of the call, and a call through a
        gateway that sofia does not know, or holds down (its registration or pings failing),
        is refused before it has a channel: no hang-up hook ever says so. Asked first."""
        gateway = self.settings["gateway"]
        status = esl.api(f"sofia status gateway {gateway}")
        if status.strip().startswith("Invalid Gateway"):
            raise TransportError(
                "FreeSWITCH has no such sofia gateway", permanent=True, code="gateway"
            )
        for row in status.splitlines():
            name, _, value = row.partition("\t")
            if name.strip() == "Status" and value.split()[:1] != ["UP"]:
                raise TransportError(
                    f"the FreeSWITCH gateway is {value.strip()[:20]}",
                    permanent=False,
                    code="gateway_down",
                )


class _Esl:
    """The event socket's plain-text framing: header lines, a blank line, and a body when
    ``Content-Length`` says so."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.body = ""

    def _line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EslError("FreeSWITCH closed the event socket", permanent=False)
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def read(self) -> dict[str, str]:
        """The next message's headers; its body, if any, in ``self.body``."""
        headers: dict[str, str] = {}
        while line := self._line().rstrip(b"\r"):
            name, _, value = line.decode("utf-8", "replace").partition(":")
            headers[name.strip()] = value.strip()
        length = int(headers.get("Content-Length") or 0)
        while len(self.buffer) < length:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EslError("FreeSWITCH closed the event socket", permanent=False)
            self.buffer += chunk
        self.body = self.buffer[:length].decode("utf-8", "replace")
        self.buffer = self.buffer[length:]
        return headers

    def api(self, command: str) -> str:
        """Run an API command; what it wrote (``api/response``'s body)."""
        self.sock.sendall(f"api {command}".encode() + b"\n\n")
        while self.read().get("Content-Type") != "api/response":
            pass
        return self.body

    def ask(self, command: str) -> str:
        """Send one command; FreeSWITCH's ``Reply-Text`` (events before it are skipped)."""
        self.sock.sendall(command.encode() + b"\n\n")
        while True:
            headers = self.read()
            if headers.get("Content-Type") == "command/reply":
                return headers.get("Reply-Text", "")

"""Acknowledgements (ACK) with MSA and, on errors, ERR segments. Pure Python.

HL7 2.5 moved the error into ERR-2 (location), ERR-3 (code), ERR-4 (severity) and ERR-8
(text); 2.3 and 2.4 carry it all in ERR-1. The ACK answers in the message's version and
character set, so the sender can read it.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import datetime

from careloop.interop.hl7.message import (
    Delimiters,
    HL7Error,
    Message,
    escape,
    header_fields,
    header_text,
)

_ERROR_NAMES = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    207: "Application internal error",
}
_counter = itertools.count(1)
_PREFIX = f"CL{os.getpid() % 100000:05d}"


def _control_id() -> str:
    return f"{_PREFIX}{next(_counter):010d}"


_VERSION = re.compile(r"2\.\d(\.\d)?")


def _echo(raw: bytes | None) -> tuple[str, str, str, str, str, str, str]:
    """(sending application, facility, receiving application, facility, control id, version,
    trigger event) read from the raw MSH of a message that could not be parsed, so its ACK
    still names the message (MSA-2) and goes back to its sender; blanks for what cannot be
    read."""
    parts = header_fields(raw) if raw else None
    if parts is None or len(parts) < 10:
        return "", "", "", "", "", "2.5", ""
    component = parts[1][:1] or b"^"

    def text(n: int) -> str:
        return header_text(parts[n].split(component)[0], raw or b"") if len(parts) > n else ""

    version = text(11)
    types = parts[8].split(component) if len(parts) > 8 else []
    trigger = types[1].decode("ascii", "replace") if len(types) > 1 else ""
    return (
        text(2),
        text(3),
        text(4),
        text(5),
        header_text(parts[9], raw or b"")[:64],
        version if _VERSION.fullmatch(version) else "2.5",
        trigger if trigger.isalnum() else "",
    )


def build_ack(
    message: Message | None,
    code: str,
    error: HL7Error | None = None,
    *,
    now: datetime | None = None,
    raw: bytes | None = None,
) -> str:
    """An ACK for ``message`` with MSA-1 ``code`` (AA accepted, AE error, AR rejected);
    when it could not be read, one naming what its raw header (``raw``) says."""
    d = message.delimiters if message else Delimiters()
    stamp = (now or datetime.now()).strftime("%Y%m%d%H%M%S")  # noqa: DTZ005 - local time
    if message is not None:
        sender_app, sender_facility = message.sending_application, message.sending_facility
        our_app, our_facility = message.receiving_application, message.receiving_facility
        control, version = message.control_id, message.version or "2.5"
        trigger, charset = message.trigger_event, message.msh[18]
        processing = message.msh.component(11)
    else:
        sender_app, sender_facility, our_app, our_facility, control, version, trigger = _echo(raw)
        charset, processing = "", ""
    # MSH-11 as the sender's: a test system (T) or one debugging (D) is answered as one, not
    # told that its message was taken as production.
    processing = processing if processing in ("P", "T", "D") else "P"
    f = d.field
    msh = f.join(
        [
            "MSH",
            f"{d.component}{d.repetition}{d.escape}{d.subcomponent}",
            # we answer as the application and facility the sender addressed (MSH-5, MSH-6)
            escape(our_app, d) or "CARELOOP",
            escape(our_facility, d) or "CARELOOP",
            escape(sender_app, d),
            escape(sender_facility, d),
            stamp,
            "",
            f"ACK{d.component}{trigger}{d.component}ACK" if trigger else "ACK",
            _control_id(),
            processing,
            version,
            "",
            "",
            "",
            "",
            "",
            charset,
        ]
    ).rstrip(f)
    text = escape(str(error), d) if error else ""
    msa = f.join(["MSA", code, escape(control, d), text if version < "2.5" else ""]).rstrip(f)
    segments = [msh, msa]
    if error:
        segments.append(_err_segment(error, version, d))
    return "\r".join(segments) + "\r"


def _err_segment(error: HL7Error, version: str, d: Delimiters) -> str:
    name = _ERROR_NAMES.get(error.code, "Application error")
    text = escape(str(error), d)
    c, s, f = d.component, d.subcomponent, d.field
    location = c.join([error.segment, str(error.sequence or ""), str(error.field or "")])
    if version < "2.5":
        # ERR-1 (CM): segment^sequence^field^code&text&table
        return f"ERR{f}{location}{c}{error.code}{s}{name}{s}HL70357{s}{s}{text}"
    code = c.join([str(error.code), name, "HL70357"])
    fields = ["ERR", "", location.rstrip(c), code, "E", "", "", "", text]
    return f.join(fields)


def frame(text: str, encoding: str) -> bytes:
    """MLLP framing: <VT> message <FS><CR>."""
    return b"\x0b" + text.encode(encoding, "replace") + b"\x1c\r"

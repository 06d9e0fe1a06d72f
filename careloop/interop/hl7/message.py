"""HL7 v2 messages: decoding, segments, fields, escapes. Pure Python, no Django.

A plain split is used rather than a full parser library: it reads the fields CareLoop needs
about forty times faster than python-hl7 (issue 3's measurement), and the listener reads
every message before it acknowledges it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED_VERSIONS = {"2.3", "2.3.1", "2.4", "2.5", "2.5.1"}

# MSH-18 character set names seen from Chinese LIS/HIS, mapped to Python codecs.
CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "GB18030": "gb18030",
    "GB 18030-2000": "gb18030",
    "GB18030-2000": "gb18030",
    "GB18030-2005": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "CHINESE": "gb18030",
    "ASCII": "utf-8",
    "8859/1": "latin-1",
    "ISO-8859-1": "latin-1",
}
# The same names as senders spell them (GB 18030, GB-18030, UTF8, utf-8, CP936) and newer
# editions (GB18030-2022, which the codec reads: it changed a handful of rare characters'
# mappings), compared without case, spaces, hyphens or underscores.
_PLAIN_CHARSETS = {re.sub(r"[\s_-]", "", name): codec for name, codec in CHARSETS.items()} | {
    "CP936": "gb18030",
    "MS936": "gb18030",
    "EUCCN": "gb18030",
    "ISO88591": "latin-1",
    "LATIN1": "latin-1",
}


def codec_for(name: str | None) -> str | None:
    """The Python codec of an MSH-18 character set name, None when CareLoop cannot read it."""
    if not name:
        return None
    if codec := CHARSETS.get(name):
        return codec
    plain = re.sub(r"[\s_-]", "", name.upper())
    if plain.startswith("GB18030"):
        return "gb18030"
    return _PLAIN_CHARSETS.get(plain)


class HL7Error(ValueError):
    """A problem with a message, in the terms an HL7 error (ERR) segment needs.

    ``code`` is from HL7 table 0357 (100 segment sequence, 101 required field missing,
    102 data type error, 103 table value not found, 200 unsupported message type,
    203 unsupported version, 207 application internal error); ``reject`` marks problems that
    mean the message itself cannot be taken (AR) rather than an error in its content (AE).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = 207,
        segment: str = "",
        sequence: int = 0,
        field: int = 0,
        reject: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.segment = segment
        self.sequence = sequence
        self.field = field
        self.reject = reject


@dataclass(frozen=True)
class Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    # The message's character set (a Python codec): what a hex escape's bytes (\Xhh..\)
    # are text in (HL7 v2.5.1 2.7.4: the character set of MSH-18).
    charset: str = "utf-8"


_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
_NAMES_SEEN: set[str] = set()  # segment names already checked against _SEGMENT_NAME
_HEX = re.compile(r"X([0-9A-Fa-f]+)")


_SEGMENT_END = re.compile(rb"\r|\n")
_BOM = b"\xef\xbb\xbf"


def _start(raw: bytes) -> bytes:
    """The message from its MSH: past the frame's start, blank lines, and a UTF-8 byte order
    mark (which Windows systems write before the text; the message was refused AR 100 "does
    not start with an MSH segment", naming no control id)."""
    raw = raw.lstrip(b"\x0b \t\r\n")
    return raw[len(_BOM) :].lstrip(b" \t\r\n") if raw.startswith(_BOM) else raw


def header_fields(raw: bytes) -> list[bytes] | None:
    """The MSH segment's fields as raw bytes (``[0]`` is "MSH", ``[n]`` is MSH-(n+1), as
    the field separator is MSH-1), or None when the message does not start with MSH.
    Segments may end in CR, LF or CRLF."""
    raw = _start(raw)
    end = _SEGMENT_END.search(raw)
    header = raw[: end.start() if end else 2048]
    if not header.startswith(b"MSH") or len(header) < 8:
        return None
    return header.split(header[3:4])


def charset_of(raw: bytes) -> str | None:
    """MSH-18 read from the raw bytes (the charset names are ASCII in every encoding we
    accept)."""
    parts = header_fields(raw)
    if parts is None or len(parts) < 18:
        return None
    name = parts[17].split(b"~")[0].strip().decode("ascii", "replace").upper()
    return name or None


def header_text(value: bytes, raw: bytes) -> str:
    """A header field's bytes as text before the message is decoded: in MSH-18's character
    set when it names one we know, else UTF-8, else GB18030 (both strict, so a name in one
    is not misread as the other), else with the undecodable bytes replaced."""
    name = charset_of(raw)
    codec = codec_for(name)
    codecs = [codec] if codec else []
    for codec in (*codecs, "utf-8", "gb18030"):
        try:
            return value.decode(codec)
        except UnicodeDecodeError:
            continue
    return value.decode("utf-8", "replace")


def shown_text(raw: bytes, encoding: str, default_encoding: str = "utf-8") -> str:
    """A stored message as text for people to read: in the character set it was read in;
    one refused before it was read (no MSH-18, not in its sender's default then) in MSH-18's
    character set, else UTF-8, else its sender's default now, else GB18030, else with what
    cannot be read replaced, in whichever of UTF-8 and GB18030 reads more of it (a GB18030
    message was shown as replacement characters)."""
    if encoding:
        return raw.decode(encoding, "replace")
    name = charset_of(raw)
    for codec in (codec_for(name), "utf-8", default_encoding, "gb18030"):
        if codec:
            try:
                return raw.decode(codec)
            except (UnicodeDecodeError, LookupError):
                continue
    # Valid in none: the reading that leaves fewer characters unreadable.
    readings = (raw.decode("utf-8", "replace"), raw.decode("gb18030", "replace"))
    return min(readings, key=lambda text: text.count("\ufffd"))


def decode(raw: bytes, default_encoding: str = "utf-8") -> tuple[str, str]:
    """The message text and the codec used: MSH-18 when present, else the sender's default,
    else (not valid in it) GB18030 — or UTF-8 for a sender whose default is GB18030."""
    raw = _start(raw)
    name = charset_of(raw)
    declared = codec_for(name)
    if name is not None and declared is None:
        raise HL7Error(
            f"MSH-18: unsupported character set {name!r}",
            code=103,
            segment="MSH",
            sequence=1,
            field=18,
            reject=True,
        )
    codec = declared or default_encoding
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError as exc:
        if name is None:
            # MSH-18 left empty, as many Chinese laboratory systems leave it while writing
            # GB18030 (or UTF-8 from a sender set to GB18030): the other, read strictly.
            other = "gb18030" if codec != "gb18030" else "utf-8"
            try:
                return raw.decode(other), other
            except UnicodeDecodeError:
                pass
        said = f"MSH-18 says {name}" if name else f"the sender's default is {codec}"
        raise HL7Error(
            f"the message is not valid {codec} text ({said}); byte {exc.start} cannot be decoded",
            code=102,
            segment="MSH",
            sequence=1,
            field=18,
            reject=True,
        ) from exc


class Segment:
    """One segment. ``self[n]`` is field n as sent (escaped); use the text helpers to read.

    Each field is split into repetitions and components once, on first read: a reader
    asks for many components of the same few fields.
    """

    __slots__ = ("_split", "delimiters", "fields", "name", "plain", "sequence")

    def __init__(
        self,
        name: str,
        fields: list[str],
        delimiters: Delimiters,
        sequence: int,
        *,
        plain: bool = False,
    ):
        self.name = name
        self.fields = fields
        self.delimiters = delimiters
        self.sequence = sequence
        # No escape, repetition or subcomponent character anywhere: a field's components
        # are a plain split (the common case, read at high rates).
        self.plain = plain
        self._split: dict[int, list[list[str]]] = {}

    def __getitem__(self, index: int) -> str:
        return self.fields[index] if index < len(self.fields) else ""

    def _parts(self, index: int) -> list[list[str]]:
        parts = self._split.get(index)
        if parts is None:
            value = self[index]
            d = self.delimiters
            parts = [rep.split(d.component) for rep in value.split(d.repetition)] if value else []
            self._split[index] = parts
        return parts

    def repetitions(self, index: int) -> list[str]:
        value = self[index]
        return value.split(self.delimiters.repetition) if value else []

    def component(self, index: int, component: int = 1, repetition: int = 0) -> str:
        """Field ``index``, component ``component`` (1-based), unescaped."""
        reps = self._parts(index)
        if repetition >= len(reps):
            return ""
        parts = reps[repetition]
        if component > len(parts):
            return ""
        value = parts[component - 1]
        d = self.delimiters
        if d.subcomponent in value:
            value = value.split(d.subcomponent)[0]
        return unescape(value, d) if d.escape in value else value

    def text(self, index: int) -> str:
        """The whole field unescaped (for text values: TX, FT, ST)."""
        return unescape(self[index], self.delimiters)


class Message:
    def __init__(self, segments: list[Segment], delimiters: Delimiters) -> None:
        self.segments = segments
        self.delimiters = delimiters
        self.msh = segments[0]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    @property
    def message_code(self) -> str:
        return self.msh.component(9, 1)

    @property
    def trigger_event(self) -> str:
        return self.msh.component(9, 2)

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger_event}"

    @property
    def control_id(self) -> str:
        return self.msh.component(10)

    @property
    def version(self) -> str:
        return self.msh.component(12)

    @property
    def sending_application(self) -> str:
        return self.msh.component(3)

    @property
    def sending_facility(self) -> str:
        return self.msh.component(4)

    @property
    def receiving_application(self) -> str:
        return self.msh.component(5)

    @property
    def receiving_facility(self) -> str:
        return self.msh.component(6)


def parse(text: str, charset: str = "utf-8") -> Message:
    """Split a message into segments and fields; HL7Error when it is not HL7 v2.
    ``charset``: the codec the message was decoded with (``decode``), for hex escapes."""
    text = text.strip("\x0b\x1c \t\r\n").lstrip("\ufeff")
    if not text.startswith("MSH"):
        raise HL7Error(
            "the message does not start with an MSH segment",
            code=100,
            segment="MSH",
            sequence=1,
            reject=True,
        )
    if len(text) < 8:
        raise HL7Error(
            "the MSH segment is too short", code=100, segment="MSH", sequence=1, reject=True
        )
    separator = text[3]
    encoding = text[4:8]
    if separator.isalnum() or len(set(encoding)) != 4 or separator in encoding:
        raise HL7Error(
            "MSH-1/MSH-2: field separator and encoding characters are not valid",
            code=102,
            segment="MSH",
            sequence=1,
            field=2,
            reject=True,
        )
    delimiters = Delimiters(
        separator, encoding[0], encoding[1], encoding[2], encoding[3], charset or "utf-8"
    )
    special = (encoding[1], encoding[2], encoding[3])
    lines = _SEGMENT_SPLIT.split(text) if "\n" in text else text.split("\r")
    segments = []
    # A segment's sequence in an error's location (ERR-2, ERL.2) is its occurrence among the
    # segments of its name (the second OBX is OBX^2), not its line.
    occurrences: dict[str, int] = {}
    for line_number, line in enumerate(lines, start=1):
        name = line[:3]
        if name not in _NAMES_SEEN or (len(line) > 3 and line[3] != separator):
            if not line.strip():
                continue
            if not _SEGMENT_NAME.fullmatch(name) or (len(line) > 3 and line[3] != separator):
                raise HL7Error(
                    f"segment {line_number} ({line[:10]!r}) is not an HL7 segment",
                    code=100,
                    segment=name[:3],
                )
            _NAMES_SEEN.add(name)
        occurrences[name] = sequence = occurrences.get(name, 0) + 1
        if "\x00" in line:
            # PostgreSQL text cannot hold NUL (the import failed there; SQLite stored a name
            # with a NUL in it): refused, naming the field, as the API and FHIR refuse it.
            field = line[: line.index("\x00")].count(separator) + (name == "MSH")
            raise HL7Error(
                f"{name}-{field}: a NUL character (0x00) is not allowed in a message",
                code=102,
                segment=name,
                sequence=sequence,
                field=field,
            )
        parts = line.split(separator)
        if name == "MSH":
            # MSH-1 is the separator itself: make MSH-n land at index n.
            parts = ["MSH", separator, *parts[1:]]
            plain = False
        else:
            plain = special[0] not in line and special[1] not in line and special[2] not in line
        segments.append(Segment(name, parts, delimiters, sequence, plain=plain))
    return Message(segments, delimiters)


def unescape(value: str, delimiters: Delimiters) -> str:
    escape = delimiters.escape
    if escape not in value:
        return value
    out: list[str] = []
    pieces = value.split(escape)
    out.append(pieces[0])
    index = 1
    while index < len(pieces):
        if index + 1 >= len(pieces):  # a lone escape character: keep it
            out.append(escape + pieces[index])
            break
        code = pieces[index]
        replacement = {
            "F": delimiters.field,
            "S": delimiters.component,
            "T": delimiters.subcomponent,
            "R": delimiters.repetition,
            "E": escape,
            ".br": "\n",
        }.get(code)
        if replacement is None and (match := _HEX.fullmatch(code)):
            try:
                replacement = bytes.fromhex(match[1]).decode(delimiters.charset, "replace")
            except (ValueError, LookupError):
                replacement = ""
        out.append(replacement if replacement is not None else "")
        out.append(pieces[index + 1])
        index += 2
    return "".join(out)


def escape(value: str, delimiters: Delimiters = Delimiters()) -> str:
    e = delimiters.escape
    return (
        value.replace(e, f"{e}E{e}")
        .replace(delimiters.field, f"{e}F{e}")
        .replace(delimiters.component, f"{e}S{e}")
        .replace(delimiters.subcomponent, f"{e}T{e}")
        .replace(delimiters.repetition, f"{e}R{e}")
        .replace("\r", f"{e}.br{e}")
        .replace("\n", f"{e}.br{e}")
    )

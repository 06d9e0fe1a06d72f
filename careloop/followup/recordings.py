"""Call recordings (随访电话录音): the type told by the content, never by the file name, and
playback with HTTP range requests (seeking in the browser's audio player)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "amr": "audio/amr",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def sniff(head: bytes) -> str | None:
    """The recording's type from its first bytes: mp3 (an ID3 tag or an MPEG audio frame),
    wav (RIFF…WAVE), m4a (an MP4 ``ftyp`` box), amr (``#!AMR``); None for anything else."""
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"#!AMR"):
        return "amr"
    return None


def stored_name(kind: str) -> str:
    """The name a recording is kept under: never the uploaded file's, which a call centre
    often makes of the number it called (13900001234_20261206.wav); the storage adds what
    makes it unique."""
    return f"call.{kind}" if kind in CONTENT_TYPES else "call"


def _chunks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    handle.seek(start)
    left = length
    try:
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        handle.close()


def ranged_response(
    request: HttpRequest, handle: IO[bytes], size: int, kind: str
) -> HttpResponse | StreamingHttpResponse:
    """The whole file (200) or the range asked for (206); 416 for a range outside it."""
    content_type = CONTENT_TYPES.get(kind, "application/octet-stream")
    start, end = 0, size - 1
    match = _RANGE.match(request.headers.get("Range", "").strip())
    status = 200
    if match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
        if start >= size or start > end:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        status = 206
    stream = StreamingHttpResponse(
        _chunks(handle, start, end - start + 1), status=status, content_type=content_type
    )
    stream["Accept-Ranges"] = "bytes"
    stream["Content-Length"] = str(end - start + 1)
    if status == 206:
        stream["Content-Range"] = f"bytes {start}-{end}/{size}"
    stream["Cache-Control"] = "private, no-store"
    return stream

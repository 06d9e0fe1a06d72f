"""Keep patient-link tokens out of the logs.

A patient page's address carries its signed token (``/p/<token>/…``); whoever reads it from
a log holds the link, with only the identity check between them and the patient's data.
The web server's access log and Django's request warnings ("Not Found: /p/…") name paths,
so both go through ``redact``: the token becomes "…" (staff pages under ``/p/staff/`` keep
their paths). Records elsewhere name a link by its fingerprint (portal.links).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

_PATIENT_LINK = re.compile(r"(/p/)(?!staff/)[^/?#\s\"']+")


def redact(text: str) -> str:
    """``text`` with every patient-link token replaced by "…"."""
    return _PATIENT_LINK.sub(r"\1…", text) if "/p/" in text else text


class RedactingFilter(logging.Filter):
    """For Django's request loggers: the message and its string arguments redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class AccessLogger(Logger):
    """gunicorn's logger with the path, request line and referrer redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms

"""Keep patient-link tokens out of the logs.

A patient page's address carries its signed token (``/p/<token>/…``); whoever reads it from
a log holds the link, with only the identity check between them and the patient's data.
The web server's access log and Django's request warnings ("Not Found: /p/…") name paths,
so both go through ``redact``: the token becomes "…" (staff pages under ``/p/staff/`` keep
their paths). Records elsewhere name a link by its fingerprint (portal.links).

A query string never reaches a log either (a search by phone or ID number, an
identity-check answer): the access log names paths only, and the request lines that
gunicorn's error log quotes (a line it cannot parse, a request that failed outside Django)
and that ``careloop runserver`` logs (django.server) lose theirs to ``redact_request``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

_PATIENT_LINK = re.compile(r"(/p/)(?!staff/)[^/?#\s\"']+")
# A query string: up to the request line's HTTP version, a closing quote or the line's end.
_QUERY = re.compile(r"(?<=\S)\?.*?(?=\s+HTTP/\d|[\"']?$)", re.MULTILINE)


def redact(text: str) -> str:
    """``text`` with every patient-link token replaced by "…"."""
    return _PATIENT_LINK.sub(r"\1…", text) if "/p/" in text else text


def redact_request(text: str) -> str:
    """``text`` with every query string and patient-link token replaced by "…"."""
    return redact(_QUERY.sub("?…", text) if "?" in text else text)


class RedactingFilter(logging.Filter):
    """For every record (the stderr handler's): the message and its string arguments
    redacted, tokens and query strings (django.server's request lines carry them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            # A format with arguments keeps its "?": a placeholder after one must survive.
            record.msg = redact(record.msg) if record.args else redact_request(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_request(a) if isinstance(a, str) else a for a in record.args)
        return True


class ServerErrorFilter(logging.Filter):
    """For gunicorn's error log: the message and its traceback, query strings redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: never raise from here
            message = str(record.msg)
        record.msg, record.args = redact_request(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_request(logging.Formatter().formatException(record.exc_info))
        return True


class AccessLogger(Logger):
    """gunicorn's logger with the path, request line and referrer redacted (tokens and query
    strings); its error log without query strings."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, ServerErrorFilter) for f in self.error_log.filters):
            self.error_log.addFilter(ServerErrorFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        # Whatever the format (careloop serve's names the path alone; gunicorn's default
        # the request line and the referrer): paths without tokens, no query string.
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "f", "{referer}i", "{raw_uri}e", "{http_referer}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_request(atoms[key])
        for key in ("q", "{query_string}e"):
            if atoms.get(key):
                atoms[key] = "…"
        return atoms

"""Where the current request comes from, for the audit log, without passing it around."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    via: str = "system"
    ip: str | None = None
    user_agent: str = ""


_SYSTEM = Origin()
_origin: ContextVar[Origin] = ContextVar("careloop_audit_origin", default=_SYSTEM)


def current_origin() -> Origin:
    return _origin.get()


@contextmanager
def origin(value: Origin) -> Iterator[None]:
    token = _origin.set(value)
    try:
        yield
    finally:
        _origin.reset(token)

"""The shape every provider's push is read into (no Django here: the readers are pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar


class CallbackError(ValueError):
    """A push that cannot be read (names what is wrong) or is not the provider's
    (``status`` 403)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CallbackRequest:
    method: str
    query: dict[str, str]
    body: bytes
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # the channel's (AppID, CorpID…)


@dataclass(frozen=True)
class Report:
    """The provider's word on one message: delivered to the handset, or not and why.
    Matched by our idempotency ``key`` when the provider returns it, else its own id."""

    delivered: bool
    provider_id: str = ""
    key: str = ""
    code: str = ""
    error: str = ""


@dataclass(frozen=True)
class Inbound:
    """Something the patient sent: text, keys pressed on a call, or leaving the channel."""

    sender: str
    text: str = ""
    key: str = ""  # the message it answers, when the provider says
    keypad: str = ""
    unsubscribe: bool = False
    external_id: str = ""  # the provider's id, so a re-sent push is not read twice
    provider_id: str = ""  # the provider's id of the message it answers (a call's CallId)


@dataclass
class Reading:
    reports: list[Report] = field(default_factory=list)
    inbound: list[Inbound] = field(default_factory=list)
    answer: bytes = b""
    content_type: str = "application/json"


class Reader:
    """One provider's pushes. ``kinds`` are the URLs it posts to (``report``, ``reply``…)."""

    provider: ClassVar[str]
    channel: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    verified_by_get: ClassVar[bool] = False  # the console checks the URL with a GET
    ANSWER: ClassVar[dict[str, Any]] = {}

    def read(self, kind: str, request: CallbackRequest) -> Reading:
        raise NotImplementedError

    def answer(self) -> bytes:
        return json.dumps(self.ANSWER, ensure_ascii=False).encode()


def json_items(body: bytes) -> list[dict[str, Any]]:
    """A JSON array of objects (a single object counts as one item)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CallbackError("the body is not UTF-8 JSON") from error
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CallbackError("the body is not a JSON array of objects")
    return items


def text(item: dict[str, Any], name: str, index: int, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise CallbackError(f"item {index}: {name} is missing")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise CallbackError(f"item {index}: {name} must be a string")
    return str(value)

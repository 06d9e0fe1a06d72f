"""Signed, expiring links to a patient's pages (``/p/<token>/``): the token carries the
patient, the purpose (and the questionnaire or task it is for) and its expiry, signed with
the server's secret key. A changed character, or a link past its expiry, opens nothing."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

SALT = "careloop.portal.link"
PURPOSES = ("home", "questionnaire", "readings", "report")
DEFAULT_DAYS = 7
MAX_DAYS = 30


class LinkError(ValueError):
    """The link was changed (``tampered``) or is past its expiry."""

    def __init__(self, tampered: bool) -> None:
        super().__init__("tampered" if tampered else "expired")
        self.tampered = tampered


@dataclass(frozen=True)
class Link:
    patient_id: int
    purpose: str
    questionnaire: str
    task_id: int | None
    expires: int  # Unix seconds
    token: str

    @property
    def fingerprint(self) -> str:
        """Names the link in records without storing it (it opens the patient's pages)."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:32]


def make_token(
    patient_id: int,
    purpose: str = "home",
    *,
    questionnaire: str = "",
    task_id: int | None = None,
    days: int = DEFAULT_DAYS,
    now: float | None = None,
) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1–{MAX_DAYS}")
    payload = {
        "p": patient_id,
        "u": purpose,
        "q": questionnaire,
        "t": task_id,
        "x": int((now or time.time()) + days * 86400),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def link_path(token: str) -> str:
    return reverse("portal:home", args=[token])


def read(token: str, *, now: float | None = None) -> Link:
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature as error:
        raise LinkError(tampered=True) from error
    if not isinstance(data, dict) or not isinstance(data.get("p"), int):
        raise LinkError(tampered=True)
    if int(data.get("x", 0)) < (now or time.time()):
        raise LinkError(tampered=False)
    return Link(
        patient_id=data["p"],
        purpose=str(data.get("u", "home")),
        questionnaire=str(data.get("q", "")),
        task_id=data.get("t"),
        expires=int(data["x"]),
        token=token,
    )

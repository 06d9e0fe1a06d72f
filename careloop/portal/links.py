"""Expiring links to a patient's pages (``/p/<token>/``): the token carries the patient, the
purpose (and the questionnaire or task it is for) and its expiry, encrypted and authenticated
with a key derived from the server's secret key (AES-256-GCM). The link reveals nothing (not
the patient's record number), a changed character opens nothing, nor does a link past its
expiry.

A token is ``base64url(version ‖ nonce ‖ ciphertext ‖ tag)``: ~67 characters (~90 with a
questionnaire and a task), which matters in a text message. Links made before this format
(Django's signed JSON, readable) are still read until they expire (at most ``MAX_DAYS``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

SALT = "careloop.portal.link"
PURPOSES = ("home", "questionnaire", "readings", "report")
DEFAULT_DAYS = 7
MAX_DAYS = 30
VERSION = b"\x01"
NONCE = 12
# purpose index, expiry (Unix seconds), patient id, task id (0: none); the questionnaire's
# code follows as UTF-8.
FIXED = struct.Struct("!BIQQ")


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


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SALT.encode())
    return AESGCM(hkdf.derive(secret.encode()))


def _ciphers() -> list[AESGCM]:
    """The current key first, then those of ``SECRET_KEY_FALLBACKS`` (a rotated secret key
    keeps the links already sent working)."""
    return [_cipher(s) for s in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]


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
    expires = int((now if now is not None else _now()) + days * 86400)
    plain = FIXED.pack(PURPOSES.index(purpose), expires, patient_id, task_id or 0)
    nonce = os.urandom(NONCE)
    sealed = _ciphers()[0].encrypt(nonce, plain + questionnaire.encode(), VERSION)
    return base64.urlsafe_b64encode(VERSION + nonce + sealed).rstrip(b"=").decode()


def _now() -> float:
    """The application's clock (``timezone.now``), the one that stamped the link's task."""
    return timezone.now().timestamp()


def link_path(token: str) -> str:
    return reverse("portal:home", args=[token])


def read(token: str, *, now: float | None = None) -> Link:
    link = _read_signed(token) if ":" in token else _open(token)
    if link.expires < (now if now is not None else _now()):
        raise LinkError(tampered=False)
    return link


def _open(token: str) -> Link:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as error:
        raise LinkError(tampered=True) from error
    # Only the canonical spelling: base64's spare bits in the last character would otherwise
    # let a changed character through (and give one link several fingerprints).
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == token
    if not canonical or raw[:1] != VERSION or len(raw) < 1 + NONCE + FIXED.size + 16:
        raise LinkError(tampered=True)
    nonce, sealed = raw[1 : 1 + NONCE], raw[1 + NONCE :]
    for cipher in _ciphers():
        try:
            plain = cipher.decrypt(nonce, sealed, VERSION)
            break
        except InvalidTag:
            continue
    else:
        raise LinkError(tampered=True)
    purpose, expires, patient_id, task_id = FIXED.unpack_from(plain)
    return Link(
        patient_id=patient_id,
        purpose=PURPOSES[purpose],
        questionnaire=plain[FIXED.size :].decode(),
        task_id=task_id or None,
        expires=expires,
        token=token,
    )


def _read_signed(token: str) -> Link:
    """A link of the earlier format (signed JSON), made before the upgrade."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature as error:
        raise LinkError(tampered=True) from error
    if not isinstance(data, dict) or not isinstance(data.get("p"), int):
        raise LinkError(tampered=True)
    return Link(
        patient_id=data["p"],
        purpose=str(data.get("u", "home")),
        questionnaire=str(data.get("q", "")),
        task_id=data.get("t"),
        expires=int(data.get("x", 0)),
        token=token,
    )

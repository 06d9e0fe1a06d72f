"""Encryption of personal identifiers at rest, and keyed hashes for exact lookup.

CARELOOP_FIELD_KEY holds one or more Fernet keys, newest first. New values are encrypted with
the first key; every key can decrypt, so a key is rotated by putting the new one in front and
running ``careloop rotatekeys``, which re-encrypts and re-indexes the stored values.

Lookups never decrypt: a *blind index* (HMAC-SHA256 under a key derived from a field key) of the
normalised value is stored beside the ciphertext. While a rotation is under way a value may
still be indexed under an older key, so lookups ask for the index under every key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DecryptionError(ValueError):
    """A stored value cannot be decrypted with any configured key."""


def _configured_keys() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(settings.FIELD_ENCRYPTION_KEYS)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ValueError(
            "CARELOOP_FIELD_KEY must hold url-safe base64 Fernet keys of 32 bytes"
        ) from exc


@lru_cache(maxsize=8)
def _index_keys(keys: tuple[str, ...]) -> tuple[bytes, ...]:
    derived = []
    for key in keys:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"careloop blind index")
        derived.append(hkdf.derive(key.encode()))
    return tuple(derived)


def encrypt(plaintext: str) -> str:
    return _fernet(_configured_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(_configured_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from exc


def reencrypt(token: str) -> str:
    """Re-encrypt under the newest key (no-op in meaning, new ciphertext)."""
    try:
        return _fernet(_configured_keys()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from exc


def _digest(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def blind_index(purpose: str, normalised: str) -> str:
    """Index under the newest key: what is stored."""
    return _digest(_index_keys(_configured_keys())[0], purpose, normalised)


def blind_index_candidates(purpose: str, normalised: str) -> Sequence[str]:
    """Index under every configured key: what a lookup asks for."""
    return [_digest(key, purpose, normalised) for key in _index_keys(_configured_keys())]


def rotate_all(batch: int = 1000) -> dict[str, int]:
    """Re-encrypt every encrypted field under the newest key and recompute blind indexes.

    Run after putting a new key in front of CARELOOP_FIELD_KEY; afterwards the old key can
    be dropped. Returns the number of rows rewritten per model.
    """
    from django.apps import apps
    from django.db import transaction

    from careloop.fields import BlindIndexField, EncryptedTextField

    counts: dict[str, int] = {}
    for model in apps.get_models():
        fields = [
            f.name
            for f in model._meta.fields
            if isinstance(f, EncryptedTextField | BlindIndexField)
        ]
        if not fields:
            continue
        pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch):
            with transaction.atomic():
                rows = model._default_manager.select_for_update().filter(
                    pk__in=pks[start : start + batch]
                )
                for row in rows:
                    row.save(update_fields=fields)
        counts[model._meta.label] = len(pks)
    return counts
